"""msclr_mm: Multi-Skeleton Contrastive Learning (MS-CLR) for mmaction2.

Importing the package applies the stack fixes in :mod:`msclr_mm.compat` first, then
registers every dataset, transform, model and metric of the plugin into mmaction2's
registries, so configs can name them next to mmaction2's own.
"""

from . import compat  # noqa: F401, I001  (must run before anything imports mmaction.models)
from . import skeletons  # noqa: E402
from . import models  # noqa: E402
from . import evaluation  # noqa: E402, F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat', 'models', 'skeletons']
