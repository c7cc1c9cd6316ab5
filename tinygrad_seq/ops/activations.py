"""GELU (exact, erf form) as a primitive, with the error function it needs.

NumPy has no erf, so ``erf`` below evaluates it from Chebyshev expansions fitted for
this module (interpolation at 400 Chebyshev nodes of values computed with mpmath at 40
digits; see ``tests/nn/test_nn_layers_misc.py`` for the accuracy check against math.erf):

    |x| < 1:      erf(x) = x * A(2 x^2 - 1)                          (11th degree)
    1 <= |x| < 3: erf(x) = 1 - exp(-x^2) * B(x - 2)                  (erfcx, 18th degree)
    3 <= |x| < 6: erf(x) = 1 - exp(-x^2) * C((2 |x| - 9) / 3)        (erfcx, 12th degree)
    |x| >= 6:     erf(x) = sign(x)        (erfc(6) = 2e-17 is below half an ulp of 1)

A, B, C are Chebyshev series summed by Clenshaw's recurrence; odd symmetry gives
negative x. In float64 the relative error against ``math.erf`` is below 1e-15.
"""
import math

from .. import backend
from ..autograd import Node, call
from ..backend import float_array
from .elementwise import Exp

_A = (0.9754769393826545, -0.1422612051037136, 0.010035582187599822,
      -0.0005768764699767445, 2.7419931252252584e-05, -1.104317550672236e-06,
      3.8488755444760887e-08, -1.1808581990619222e-09, 3.233424683585355e-11,
      -7.990859037608795e-13, 1.8013679391533623e-14, -2.7646874907716405e-16)
_B = (0.27853893659779244, -0.11964641832736303, 0.023925887746485495,
      -0.004503974067265874, 0.0008045451692536378, -0.00013720361484011832,
      2.244458275372832e-05, -3.5355728651688948e-06, 5.38008309111044e-07,
      -7.929694882239548e-08, 1.1346142339218041e-08, -1.579118167491109e-09,
      2.141396541083773e-10, -2.8336596436658052e-11, 3.663899825589173e-12,
      -4.634293968458303e-13, 5.73642367755655e-14, -6.902972139378713e-15,
      8.051276097921978e-16)
_C = (0.12902689965474173, -0.04204267813951179, 0.006698487121092751,
      -0.0010450916791743738, 0.00015985899884949324, -2.399826158721175e-05,
      3.539064105059165e-06, -5.131303200645345e-07, 7.320268611600156e-08,
      -1.0282193114209907e-08, 1.4229088629563829e-09, -1.9411157063072933e-10,
      2.611795722222796e-11)

SQRT1_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _clenshaw(t, coeffs):
    """sum_k coeffs[k] T_k(t) for an array t in [-1, 1]."""
    t2 = t * 2.0
    b1 = b2 = 0.0
    for c in coeffs[:0:-1]:
        b1, b2 = t2 * b1 - b2 + c, b1
    return t * b1 - b2 + coeffs[0]


def erf(x):
    """The error function of a float array (NumPy or CuPy), elementwise."""
    mod = backend.array_module(x)
    ax = abs(x)
    out = mod.full(x.shape, float("nan"), dtype=x.dtype)      # nan stays nan
    small = ax < 1.0
    if small.any():
        a = ax[small]
        out[small] = a * _clenshaw(a * a * 2.0 - 1.0, _A)
    for lo, hi, coeffs, t_of in ((1.0, 3.0, _B, lambda a: a - 2.0),
                                 (3.0, 6.0, _C, lambda a: (a * 2.0 - 9.0) * (1.0 / 3.0))):
        part = (ax >= lo) & (ax < hi)
        if part.any():
            a = ax[part]
            out[part] = 1.0 - mod.exp(-(a * a)) * _clenshaw(t_of(a), coeffs)
    out[ax >= 6.0] = 1.0
    return mod.copysign(out, x)


class Gelu(Node):
    """y = x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2 (exact GELU, PyTorch's default)
    dx = dy * (Phi(x) + x * phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)   (GeluGrad)"""

    def forward(self, x):
        x = float_array(x, "gelu")
        cdf = erf(x * SQRT1_2)
        cdf += 1.0
        cdf *= 0.5
        self.cdf = cdf
        return x * cdf

    def backward(self, g):
        (x,) = self.saved_inputs()
        return (g * call(GeluGrad, x, cdf=self.cdf),)


class GeluGrad(Node):
    """z = Phi(x) + x * phi(x)  (the derivative of GELU; `cdf` = Phi(x) when the caller
    has it already, as Gelu's backward does)
    dx = dz * phi(x) * (2 - x^2)"""

    def forward(self, x, cdf=None):
        x = float_array(x, "gelu")
        if cdf is None:
            cdf = erf(x * SQRT1_2)
            cdf += 1.0
            cdf *= 0.5
        mod = backend.array_module(x)
        pdf = mod.exp(mod.square(x) * -0.5)
        pdf *= INV_SQRT_2PI
        pdf *= x
        pdf += cdf
        return pdf

    def backward(self, g):
        (x,) = self.saved_inputs()
        pdf = call(Exp, x * x * -0.5) * INV_SQRT_2PI
        return (g * pdf * (2.0 - x * x),)
