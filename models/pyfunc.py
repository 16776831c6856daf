"""The model contract's import path before the concept subpackages (kept for loading).

Every registered version carries a copy of its "models from code" entry file, and versions
registered before ``models.contract`` existed import ``CreditRiskModel`` from here. Removing
this module would make those versions unloadable (and a champion unservable). New code
imports ``models.contract.pyfunc``.
"""

from models.contract.pyfunc import CreditRiskModel

__all__ = ["CreditRiskModel"]
