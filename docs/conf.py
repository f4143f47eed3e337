"""Sphinx configuration of the sk_pixels documentation.

Build (offline, warnings as errors), from the repository root::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The package from this checkout, and our own extensions (docs/_ext).
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# The gallery draws its figures without a display.
os.environ.setdefault("MPLBACKEND", "Agg")

import sk_pixels  # noqa: E402

project = "sk_pixels"
author = "sk_pixels developers"
copyright = "sk_pixels developers"
version = release = sk_pixels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "cli_reference",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb", "**.py", "**.zip", "**.md5"]
templates_path = ["_templates"]
default_role = "py:obj"
# Keep "--option" and straight quotes as typed (command lines, parameter types).
smartquotes = False

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Check the docstrings' structure while building (GL08: a public name without one).
numpydoc_validation_checks = {"GL08"}
# PRESETS is documented by its ``#:`` comment, which autodoc reads from the source
# but numpydoc's validator (which looks at the object's __doc__) cannot see.
numpydoc_validation_exclude = {r"\.__init__$", r"\.__\w+__$", r"\.PRESETS$"}
# Words in "Parameters" type lines that are not Python objects to link.
numpydoc_xref_param_type = False

# -- Markdown (CHANGELOG.md, benchmarks/README.md, README's generated block) ----------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# The included Markdown files link to each other by relative file names that do
# not exist in the site; their links are text, not cross-references.
suppress_warnings = ["myst.xref_missing"]

# -- Gallery ---------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {},
    "show_memory": False,
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "doc_module": ("sk_pixels",),
    "backreferences_dir": "generated/backreferences",
    "inspect_global_variables": False,
}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sk_pixels {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "changelog": [], "cli": []}
html_show_sourcelink = False
html_copy_source = False
