"""Optimizers, gradient clipping and learning-rate schedules with ``torch.optim``'s
names, defaults and update rules: ``from tinygrad_seq import optim``."""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW, SparseAdam
from .clip import NonFiniteNormError, clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam", "AdamW", "SparseAdam", "RMSprop", "clip_grad_norm_",
           "clip_grad_value_", "lr_scheduler", "NonFiniteNormError"]
