"""edgepack: trained image classifiers in, validated PyTorch Lite-interpreter files out."""
__version__ = "0.1.0"

from .errors import EdgepackError, ValidationError  # noqa: E402
from .export import (  # noqa: E402
    export_checkpoint_to_torchscript,
    export_to_torchscript,
    load_torchscript,
    validate_torchscript_export,
)
from .models import ImageClassifier  # noqa: E402
from .package import BuildOptions, BuildResult, build  # noqa: E402

__all__ = [
    "__version__", "EdgepackError", "ValidationError", "ImageClassifier", "build", "BuildOptions",
    "BuildResult", "export_to_torchscript", "load_torchscript", "export_checkpoint_to_torchscript",
    "validate_torchscript_export",
]
