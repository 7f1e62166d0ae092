"""A griffe extension for the API reference: KerasHub-style ``Example:`` sections render as examples.

Google style's section name is ``Examples:``; deepbio's docstrings (after KerasHub's) also write
``Example:``, which griffe would otherwise render as a plain admonition, so ``>>>`` lines were
read as Markdown. This renames the heading before the docstring is parsed; the library's
docstrings stay as they are.
"""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Renames ``Example:`` headings to ``Examples:`` in every docstring griffe loads."""

    def on_instance(self, *, obj, **kwargs):
        docstring = obj.docstring
        if docstring is not None and "Example:" in docstring.value:
            docstring.value = _HEADING.sub(r"\1Examples:", docstring.value)
