"""Packages are found, never listed: every folder with an __init__.py below the three
roots ships. The folders keep the names of the project's brief, so the import names are
mapped here (`milter/` is `outguard`: pymilter owns the module name `milter`).
setuptools' declarative `packages.find` cannot apply such a mapping, hence this file;
everything else is in pyproject.toml."""

from setuptools import find_packages, setup

ROOTS = {"outguard": "milter", "outguard_plugins": "plugins", "outguard_rules": "rules"}

setup(
    package_dir=ROOTS,
    packages=[name + sub for name, folder in ROOTS.items()
              for sub in ["", *("." + p for p in find_packages(where=folder))]],
)
