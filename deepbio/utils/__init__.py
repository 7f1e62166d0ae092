"""Small shared utilities."""

from deepbio.utils.io import atomic_path, write_csv, write_json
