"""The machinery every method shares, below the methods.

`task` (config fields with their flags, the `Task` protocol, task discovery),
`run_folder` (a run's folder: seed, precision, ``params.json``, atomic report),
`engine` (the one training engine), `resume` (epoch checkpoints),
`distribute` (`tf.distribute` strategies and the multi-worker loop),
`predict_stream` (chunked, sharded prediction), `tuning` (keras-tuner over any
task), `io` (atomic writes, bounded input), `safe_files` (model files that run
no code), `loading` (user models with clear errors), `optimizers`.

Nothing here imports a method (``deepbio.ptm``, ``deepbio.rnamod``,
``deepbio.motif``, ``deepbio.multiomic``); the contracts in ``.importlinter``
check it.
"""
