"""edgepack: trained image classifiers in, validated PyTorch Lite-interpreter files out.

The public API is imported lazily (PEP 562) so that `edgepack --help` and an early Ctrl-C do not
pay for, or get caught inside, importing torch, timm and Lightning.
"""
import importlib

__version__ = "0.1.0"

_API = {
    "EdgepackError": "errors",
    "ValidationError": "errors",
    "ImageClassifier": "models",
    "build": "package",
    "BuildOptions": "package",
    "BuildResult": "package",
    "export_to_torchscript": "export",
    "load_torchscript": "export",
    "export_checkpoint_to_torchscript": "export",
    "validate_torchscript_export": "export",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'edgepack' has no attribute '{name}'")


def __dir__():
    return sorted(__all__)
