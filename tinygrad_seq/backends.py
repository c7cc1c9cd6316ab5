"""``ts.backends``, as ``torch.backends``: the switches programs set at the top
(nanoGPT's train.py: ``torch.backends.cuda.matmul.allow_tf32 = True``,
``torch.backends.cudnn.allow_tf32 = True``). This framework has no TF32 and no cuDNN,
so they are plain attributes that change nothing; ``mps.is_available()`` is False."""
from types import SimpleNamespace

cuda = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False,
                                              allow_fp16_reduced_precision_reduction=True,
                                              allow_bf16_reduced_precision_reduction=True))
cudnn = SimpleNamespace(enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
                        is_available=lambda: False)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
