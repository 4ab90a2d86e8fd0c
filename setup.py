"""Build step that pyproject.toml cannot declare: the translation catalogs are compiled here.

`pip install .` (and every wheel) ships webapp/translations/*/LC_MESSAGES/messages.mo built from
the .po files, so the installed app never writes into site-packages. A source checkout compiles
them at start-up instead (webapp/i18n.py), since editable installs do not run this step.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogs(build_py):
    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(self.build_lib, "webapp", "translations").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalog)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
