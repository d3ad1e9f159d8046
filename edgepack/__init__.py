"""edgepack: trained image classifiers, segmenters and embedding models in, validated mobile model files out.

The public API is imported lazily (PEP 562) so that `edgepack --help` and an early Ctrl-C do not
pay for, or get caught inside, importing torch, timm and Lightning.
"""
import importlib
import logging

__version__ = "0.1.0"

# Lightning's model summary imports torch.utils.flop_counter, which logs "triton not found; flop
# counting will not work for triton kernels" on every import where triton (a GPU compiler) is
# absent, as in CPU-only installs and ours. edgepack counts no flops; only that logger is quietened.
logging.getLogger("torch.utils.flop_counter").setLevel(logging.ERROR)
# torchao (imported with ExecuTorch) registers an Enum with torch's pytree at import and torch 2.12
# warns that this is deprecated: nothing for edgepack's users to act on.
logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)

_API = {
    "EdgepackError": "errors",
    "ValidationError": "errors",
    "ImageClassifier": "models",
    "SemanticSegmenter": "segmenter",
    "build": "builder",
    "BuildOptions": "package",
    "BuildResult": "package",
    "export_to_torchscript": "export",
    "load_torchscript": "export",
    "export_checkpoint_to_torchscript": "sources",
    "validate_torchscript_export": "export",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'edgepack' has no attribute '{name}'")


def __dir__():
    return sorted(__all__)
