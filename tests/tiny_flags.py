"""The tiny run of each task (seconds on 2 CPU cores), as each task declares it (`Task.tiny_flags`)."""

from deepbio.core.task import discover_tasks

TINY = {name: list(task.tiny_flags) for name, task in discover_tasks().items() if task.tiny_flags}
