"""The multi-omic transformer, after OmniBioTE: one method, several tasks.

`tokenizer` / `omnibiote_tokenizer`, `backbone`, `masked_lm`, `heads`,
`binding_model`, `builders`; `pretraining` and `pretrain_task` (masked-LM
pre-training), `pronab`, `fine_tuning`, `binding_task`, `binding_predict`,
`binding_cv`, `binding_specificity` (ΔG, kcal/mol), `benchmarks` and `finetune_task`
(GUE / TAPE), `convert`, `convert_command` and `torch_checkpoint` (the published checkpoints),
`web` (the binding tab), `benchmark` (the workloads of ``benchmarks/gpu_check.py``),
`contacts` (protein–nucleic-acid contacts on real complexes).
"""
