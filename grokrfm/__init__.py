"""grokrfm: grokking and data symmetry with Recursive Feature Machines, in JAX.

Modules, in the order data flows through them: ``tasks`` -> ``symmetry`` -> ``partition``
-> ``kernels`` -> ``solve`` -> ``agop`` -> ``rfm`` -> ``sweep``; ``memory`` and
``distribute`` plan and spread batches; ``results`` and ``plotting`` write outputs;
``cli`` and ``runtime`` serve entry points. Call ``grokrfm.runtime.configure()`` once
before the first JAX computation.
"""

__version__ = "0.1.0"
