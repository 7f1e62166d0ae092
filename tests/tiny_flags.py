"""The tiny run of each task (seconds on 2 CPU cores): tests and benchmarks/readme_tables.py --tiny."""

TINY = {
    "ptm": ["--max-windows", "700", "--folds", "2", "--epochs", "2", "--saliency-windows", "0",
            "--residue-encoders", "one_hot", "--conv-filters", "8", "--hidden-dim", "16",
            "--gru-units", "8", "--intermediate-dim", "16"],
    "rnamod": ["--modifications", "Am", "--max-windows-per-split", "40", "--epochs", "2",
               "--no-multitask", "--ism-windows", "0", "--saliency-windows", "0",
               "--encoder-filters", "16,32", "--num-embeddings", "32"],
    "motif": ["--max-sequences", "30", "--epochs", "2", "--motif-length", "5", "--jaspar-top", "0",
              "--cnn-filters", "8,8,8", "--ensemble", "2"],
    "pretrain": ["--epochs", "1", "--max-per-source", "20", "--crop-length", "32"],
    "binding": ["--max-complexes", "40", "--folds", "2", "--epochs", "1", "--pretrain-epochs", "1",
                "--max-per-source", "20", "--crop-length", "32", "--no-jaspar"],
}
