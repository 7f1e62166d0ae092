"""Small shared utilities."""

from deepbio.utils.io import atomic_path, save_figure, write_csv, write_json
