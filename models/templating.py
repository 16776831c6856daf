"""The one way riskgrade renders HTML: Jinja templates shipped inside a package.

Every page (validation, monitoring and customer reports) comes from a template loaded with
``template_environment``: values are HTML-escaped, an undefined name is an error, and blocks
do not leave blank lines. Pure: loading a package's own template is reading its code.
"""

from __future__ import annotations

import jinja2


def template_environment(package: str) -> jinja2.Environment:
    """The templates in ``<package>/templates`` of the installed package."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
