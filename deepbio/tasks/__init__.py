"""Task pipelines called by ``main.py`` and ``train.py`` (one module per task)."""
