"""`tf.function`: one traced graph per input signature, replayed on later calls.

A call's signature is built from its arguments as TensorFlow builds it: a tensor (or NumPy
array) by dtype and shape, a Variable by identity, any other Python value by value (by
identity when it cannot be hashed). The first call with a new signature runs the Python body
once while recording it (Python side effects happen then, and only then); every later call
with that signature replays the recorded graph.
"""

from __future__ import annotations

import functools
import inspect
import weakref

import numpy as np

from .. import config
from ..errors import InvalidArgumentError
from ..tensor import Tensor, Variable, convert_to_tensor
from . import tracing
from .graph import Graph, flatten
from .trace_type import tracing_key

_PLACEHOLDER_SIZE = 1  # a dimension of unknown size is traced with this size (dry traces)


def _spec_class():
    from ..data.structure import TensorSpec

    return TensorSpec


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("value", type(value).__name__, value)


class ConcreteFunction:
    """One traced graph of a `Function`, for one input signature.

    Call it with tensors of its signature; print `.graph` to read what was traced.
    """

    def __init__(self, function: Function, graph: Graph, specs: list, keep_alive: list,
                 python_arguments: dict | None = None, output_specs=None) -> None:
        self._function = function
        self.graph = graph
        self.structured_input_signature = specs
        self._keep_alive = keep_alive  # objects keyed by identity stay alive with the graph
        # the Python (non-tensor) arguments of the trace: fixed for this graph, as TensorFlow's
        # Literal[...] parameters; a call may leave them out
        self._python_arguments = python_arguments or {}
        self.structured_outputs = output_specs
        # a relaxed trace with a line whose shapes could not be inferred (shape_probe.py):
        # the input shapes it serves, and why; None for a graph serving its whole signature
        self._exact_shapes: tuple | None = None
        self._specialised = ""

    def _serves(self, tensors) -> bool:
        """Whether this graph is valid for `tensors` (a specialised one: their exact shapes)."""
        exact = self._exact_shapes
        return exact is None or tuple(tuple(t.shape) for t in tensors) == exact

    @property
    def name(self) -> str:
        return self.graph.name

    def _call_flat(self, tensors: list):
        return self.graph.replay(tensors)

    def __call__(self, *args, **kwargs):
        arguments = self._bind(args, kwargs)
        _, tensors, _, _ = self._function._signature(arguments)
        for tensor, spec in zip(tensors, self.structured_input_signature):
            if not spec.is_compatible_with(tensor):
                raise InvalidArgumentError(
                    f"ConcreteFunction {self.name}: the input of shape {tuple(tensor.shape)} "
                    f"and dtype {tensor.dtype.name} does not match the traced {spec}. Call the "
                    "tf.function itself to trace a new signature.")
        if not self._serves(tensors):  # specialised to other sizes: the Function traces them
            return self._function(*arguments.args, **arguments.kwargs)
        return self._call_flat(tensors)

    def _bind(self, args, kwargs) -> inspect.BoundArguments:
        """Bind a call, filling the trace's Python arguments the call leaves out; a different
        value for one of them is TensorFlow's TypeError."""
        parameters = self._function._signature_of.parameters
        free = [name for name, parameter in parameters.items() if name not in
                self._python_arguments and parameter.kind in (parameter.POSITIONAL_ONLY,
                                                              parameter.POSITIONAL_OR_KEYWORD)]
        if self._python_arguments and len(args) <= len(free):
            # positional values go to the tensor parameters (the Python ones are fixed)
            kwargs = {**dict(zip(free, args)), **kwargs}
            args = ()
        try:
            bound = self._function._signature_of.bind_partial(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"ConcreteFunction {self.name}: {error}") from None
        for name, value in self._python_arguments.items():
            if name not in bound.arguments:
                bound.arguments[name] = value
            elif not _same_value(bound.arguments[name], value):
                raise TypeError(
                    f"ConcreteFunction {self.name}: argument {name}={bound.arguments[name]!r} "
                    f"does not match the value it was traced with ({value!r}); Python arguments "
                    "of a concrete function are fixed. Call the tf.function itself to trace "
                    "another value.")
        try:
            return self._function._signature_of.bind(*bound.args, **bound.kwargs)
        except TypeError as error:
            raise TypeError(f"ConcreteFunction {self.name}: {error}") from None

    def _parameters(self) -> list[tuple[str, str]]:
        """(name, type text) per parameter, as TensorFlow prints a signature."""
        specs = dict(zip(self.graph.input_names, self.structured_input_signature))
        shown = []
        for name in self._function._signature_of.parameters:
            if name in specs:
                shown.append((name, repr(specs[name])))
            elif name in self._python_arguments:
                shown.append((name, f"Literal[{self._python_arguments[name]!r}]"))
        return shown

    @property
    def output_shapes(self):
        """The static shape of each output (None for a dimension that varies), nested as the
        outputs are."""
        from ..tensor import TensorShape
        from .graph import map_structure

        spec_class = _spec_class()
        return map_structure(lambda leaf: TensorShape(tuple(leaf.shape))
                             if isinstance(leaf, spec_class) else leaf, self.structured_outputs)

    @property
    def output_dtypes(self):
        """The dtype of each output, nested as the outputs are."""
        from .graph import map_structure

        spec_class = _spec_class()
        return map_structure(lambda leaf: leaf.dtype if isinstance(leaf, spec_class) else leaf,
                             self.structured_outputs)

    def _output_text(self) -> str:
        outputs = self.structured_outputs
        return "None" if outputs is None else repr(outputs)

    @property
    def function_type(self) -> _FunctionType:
        """The signature, printed as TensorFlow prints it: `(a: TensorSpec(...)) -> ...`."""
        return _FunctionType(self._parameters(), self._output_text())

    def pretty_printed_signature(self, verbose: bool = True) -> str:
        """The inputs, the output type and the captures, as TensorFlow prints them."""
        kinds = {name: parameter.kind.name for name, parameter in
                 self._function._signature_of.parameters.items()}
        lines = ["Input Parameters:"]
        lines += [f"  {name} ({kinds.get(name, 'POSITIONAL_OR_KEYWORD')}): {text}"
                  for name, text in self._parameters()]
        lines += ["Output Type:", f"  {self._output_text()}", "Captures:"]
        captures = [f"  {slot}: {self.graph.types[slot]}" for slot, _ in self.graph.captures]
        lines += captures or ["  None"]
        return "\n".join(lines)

    @property
    def inference_fn(self):
        """The graph as a plain callable on flat tensors (TensorFlow's AtomicFunction)."""
        def call(*tensors):
            return self.graph.replay(list(tensors))
        return call

    def __str__(self) -> str:
        return "ConcreteFunction " + self.pretty_printed_signature()

    def __repr__(self) -> str:
        return f"<ConcreteFunction {self.name}{self.function_type}>"


class _FunctionType:
    """What ConcreteFunction.function_type prints."""

    def __init__(self, parameters: list, output: str) -> None:
        self.parameters = parameters
        self.output = output

    def __str__(self) -> str:
        inputs = ", ".join(f"{name}: {text}" for name, text in self.parameters)
        return f"({inputs}) -> {self.output}"

    __repr__ = __str__


def _same_value(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - an object whose == is not a plain bool
        return False


def _output_specs(outputs):
    """The structure of a trace's outputs with each tensor replaced by its TensorSpec."""
    from .graph import map_structure

    spec_class = _spec_class()
    return map_structure(lambda leaf: spec_class(tuple(leaf.shape), leaf.dtype)
                         if isinstance(leaf, Tensor) else leaf, outputs)


class Function:
    """A Python function traced into graphs: what `@tf.function` returns."""

    def __init__(self, python_function, input_signature=None, autograph: bool = True,
                 jit_compile=None, reduce_retracing: bool = False, name: str | None = None):
        self._python_function = python_function
        self._signature_of = inspect.signature(python_function)
        self.input_signature = None if input_signature is None else list(input_signature)
        self._autograph = autograph
        self._jit_compile = jit_compile
        self._reduce_retracing = bool(reduce_retracing)
        self._name = name or getattr(python_function, "__name__", "function")
        self._concrete: dict = {}  # exact signature key -> ConcreteFunction
        self._relaxed: list = []  # (structure key, specs, ConcreteFunction) with None dims
        # (dtype, shape) of each positional tensor -> ConcreteFunction, for tensor-only calls
        self._fast: dict = {}
        self._autograph_function = None
        self._tracing_count = 0
        self._traces: list = []  # every ConcreteFunction, in the order traced
        self._instances: weakref.WeakKeyDictionary | dict = {}
        functools.update_wrapper(self, python_function)
        if self.input_signature is not None:
            spec_class = _spec_class()
            specs = []
            for index, spec in enumerate(self.input_signature):
                if not isinstance(spec, spec_class):
                    if not (hasattr(spec, "shape") and hasattr(spec, "dtype")):
                        raise TypeError(f"tf.function {self._name}: input_signature[{index}] "
                                        f"must be a tf.TensorSpec, got {type(spec).__name__}.")
                    spec = spec_class(spec.shape, spec.dtype, getattr(spec, "name", None))
                specs.append(spec)
            self.input_signature = specs

    @property
    def python_function(self):
        """The Python function this tf.function traces."""
        return self._python_function

    @property
    def function_spec(self):
        return self._signature_of

    def _converted(self):
        """The Python function with AutoGraph's conversion (made at the first trace)."""
        if self._autograph_function is None:
            from .autograph import convert

            self._autograph_function = convert(self._python_function) if self._autograph \
                else self._python_function
        return self._autograph_function

    def pretty_printed_concrete_signatures(self, verbose: bool = True) -> str:
        """Every traced signature, as TensorFlow prints them."""
        return "\n\n".join(concrete.pretty_printed_signature(verbose)
                            for concrete in self._traces)

    def experimental_get_tracing_count(self) -> int:
        """How many times the Python function has been traced."""
        return self._tracing_count

    # --- methods: one Function per instance, as TensorFlow binds them ------------------------
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        try:
            bound = self._instances.get(instance)
        except TypeError:  # an unhashable instance
            bound = None
        if bound is None:
            bound = Function(self._python_function.__get__(instance, owner),
                             self.input_signature, self._autograph, self._jit_compile,
                             self._reduce_retracing, self._name)
            try:
                if not isinstance(self._instances, weakref.WeakKeyDictionary):
                    self._instances = weakref.WeakKeyDictionary(self._instances)
                self._instances[instance] = bound
            except TypeError:
                pass  # not weak-referenceable: a new Function per access (retraces)
        return bound

    # --- signatures -------------------------------------------------------------------------
    def _bind(self, args, kwargs) -> inspect.BoundArguments:
        try:
            bound = self._signature_of.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"tf.function {self._name}: {error}") from None
        bound.apply_defaults()
        return bound

    def _signature(self, bound: inspect.BoundArguments):
        """(key, input tensors, their specs, (names, keep-alive objects)) of one call."""
        spec_class = _spec_class()
        arguments = bound.arguments
        leaves: list = []
        names: list = []
        for name, value in arguments.items():
            start = len(leaves)
            flatten(value, leaves)
            names += [name] * (len(leaves) - start)
        key, tensors, specs, tensor_names, keep = [], [], [], [], []
        for leaf, name in zip(leaves, names):
            if isinstance(leaf, Variable):
                key.append(("variable", id(leaf)))
                keep.append(leaf)
            elif isinstance(leaf, (Tensor, np.ndarray)):
                tensor = leaf if isinstance(leaf, Tensor) else convert_to_tensor(leaf)
                spec = spec_class(tensor.shape, tensor.dtype)
                key.append(("tensor", spec.dtype.name, tuple(spec.shape)))
                tensors.append(tensor)
                specs.append(spec)
                tensor_names.append(name)
            elif tracing_key(leaf) is not None:
                key.append(tracing_key(leaf))
            else:
                entry = _hashable(leaf)
                key.append(entry)
                if entry[0] == "id":
                    keep.append(leaf)
        structure = repr(_structure(arguments))
        return (structure, tuple(key)), tensors, specs, (tensor_names, keep)

    def _find(self, key, tensors):
        concrete = self._concrete.get(key)
        if concrete is not None:
            return concrete
        structure, entries = key
        for relaxed_key, specs, concrete in self._relaxed:
            if relaxed_key[0] != structure or len(relaxed_key[1]) != len(entries):
                continue
            if all(a == b for a, b in zip(relaxed_key[1], entries) if a[0] != "tensor") and \
                    all(spec.is_compatible_with(t) for spec, t in zip(specs, tensors)) and \
                    concrete._serves(tensors):
                return concrete
        return None

    def _relax(self, key, specs):
        """Specs with None where an earlier trace of the same structure had another size."""
        spec_class = _spec_class()
        structure, entries = key
        for previous_key, previous in list(self._concrete.items()) + \
                [(k, c) for k, _, c in self._relaxed]:
            old = previous.structured_input_signature
            if previous_key[0] != structure or len(old) != len(specs) or any(
                    a.dtype != b.dtype or len(a.shape) != len(b.shape)
                    for a, b in zip(old, specs)):
                continue
            return [spec_class([x if x == y else None for x, y in zip(a.shape, b.shape)],
                               b.dtype) for a, b in zip(old, specs)]
        return specs

    def _check_against_signature(self, tensors, specs):
        signature = self.input_signature
        if len(tensors) != len(signature):
            raise TypeError(f"tf.function {self._name}: called with {len(tensors)} tensor "
                            f"arguments but its input_signature has {len(signature)} specs.")
        for index, (tensor, spec) in enumerate(zip(tensors, signature)):
            if not spec.is_compatible_with(tensor):
                raise TypeError(
                    f"tf.function {self._name}: argument {index} (shape "
                    f"{tuple(tensor.shape)}, dtype {tensor.dtype.name}) is incompatible with "
                    f"input_signature[{index}] = {spec}. Pass a matching tensor or change the "
                    "input_signature.")

    # --- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if config._run_functions_eagerly or tracing._tracer is not None:
            if config._run_functions_eagerly:
                return self._python_function(*args, **kwargs)  # eagerly on request
            if tracing.current() is not None:
                # inside another trace the body (with its own AutoGraph conversion) is inlined
                return self._converted()(*args, **kwargs)
        if not kwargs:  # the common call, only tensors: one dict lookup to find the graph
            fast_key = []
            for arg in args:
                if arg.__class__ is not Tensor:
                    break
                array = arg.array
                fast_key.append((array.dtype, array.shape))
            else:
                concrete = self._fast.get(tuple(fast_key))
                if concrete is not None:
                    return concrete.graph.replay(args)
        arguments = self._bind(args, kwargs)
        key, tensors, specs, (names, keep) = self._signature(arguments)
        fast = not kwargs and len(tensors) == len(args) and all(
            t is a for t, a in zip(tensors, args)) and all(a.__class__ is Tensor for a in args)
        if self.input_signature is not None:
            self._check_against_signature(tensors, specs)
            specs = list(self.input_signature)
            key = _signature_key(key)
        concrete = self._find(key, tensors)
        if concrete is not None:
            if fast:
                self._fast[tuple((a.array.dtype, a.array.shape) for a in args)] = concrete
            return concrete._call_flat(tensors)
        if self._reduce_retracing and self.input_signature is None:
            specs = self._relax(key, specs)
        outputs, concrete = self._trace(arguments, key, tensors, specs, names, keep)
        if fast:
            self._fast[tuple((a.array.dtype, a.array.shape) for a in args)] = concrete
        return outputs

    def _trace(self, arguments, key, tensors, specs, names, keep, dry_run=False):
        tracer = tracing.Tracer(self._name, dry_run=dry_run,
                                allow_variables=self._tracing_count == 0)
        self._tracing_count += 1
        with tracing.tracing(tracer):
            for tensor, spec, name in zip(tensors, specs, names):
                tracer.add_input(tensor, name, tuple(spec.shape))
            try:
                outputs = self._converted()(*arguments.args, **arguments.kwargs)
            except tracing.OperatorNotAllowedInGraphError as error:
                from .autograph import why_not_converted

                reason = why_not_converted(self._python_function, self._autograph)
                if reason is None:
                    raise
                raise tracing.OperatorNotAllowedInGraphError(f"{error} {reason}") from None
            output_specs = _output_specs(outputs)  # read while traced: None dims show
            graph = tracer.finish(outputs)
            outputs = tracer.returned(outputs)
        if tracer.created_variables and self._tracing_count == 1:
            self._check_variables_once(arguments, tensors, specs, names)
        python_arguments = {name: value for name, value in arguments.arguments.items()
                            if not _holds_tensors(value)}
        concrete = ConcreteFunction(self, graph, specs, keep, python_arguments, output_specs)
        if tracer.specialised and any(None in tuple(spec.shape) for spec in specs):
            # a line could not be shape-inferred: this graph serves only the traced sizes
            concrete._exact_shapes = tuple(tuple(tensor.shape) for tensor in tensors)
            concrete._specialised = tracer.specialised
        self._traces.append(concrete)
        if any(None in tuple(spec.shape) for spec in specs):
            self._relaxed.append((key, specs, concrete))
        else:
            self._concrete[key] = concrete
        return outputs, concrete

    def _check_variables_once(self, arguments, tensors, specs, names) -> None:
        """TensorFlow traces a function that created variables a second time, where creating
        one is an error: a variable made at every call (not only on the first) raises
        ValueError. The second trace runs nothing stateful; Python side effects show twice."""
        tracer = tracing.Tracer(self._name, dry_run=True, allow_variables=False)
        self._tracing_count += 1
        restore = _save_random_states()  # this trace must not move any random sequence
        try:
            with tracing.tracing(tracer):
                for tensor, spec, name in zip(tensors, specs, names):
                    tracer.add_input(tensor, name, tuple(spec.shape))
                self._converted()(*arguments.args, **arguments.kwargs)
        finally:
            restore()

    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """The graph for these arguments (tensors or tf.TensorSpecs), tracing it if needed.

        A trace from TensorSpecs runs the body on placeholder values (ones, sizes of 1 for
        unknown dimensions) with stateful calls (assignments, tf.print, optimiser updates)
        recorded but not executed.
        """
        spec_class = _spec_class()
        if not args and not kwargs and self.input_signature is not None:
            args = tuple(self.input_signature)
        placeholders = {}

        def placeholder(value):
            if isinstance(value, spec_class):
                shape = [(_PLACEHOLDER_SIZE if d is None else d) for d in value.shape]
                dtype = np.dtype(value.dtype.as_numpy_dtype) if hasattr(
                    value.dtype, "as_numpy_dtype") else np.dtype(value.dtype.name)
                array = np.ones(shape, dtype) if dtype.kind in "fc" else np.full(
                    shape, b"", dtype) if dtype.kind == "O" else np.zeros(shape, dtype)
                tensor = convert_to_tensor(array)
                placeholders[tensor._id] = value
                return tensor
            return value

        from .graph import map_structure

        args = map_structure(placeholder, args)
        kwargs = map_structure(placeholder, kwargs)
        arguments = self._bind(args, kwargs)
        key, tensors, specs, (names, keep) = self._signature(arguments)
        specs = [placeholders.get(t._id, s) for t, s in zip(tensors, specs)]
        if self.input_signature is not None:
            key = _signature_key(key)
        if placeholders:
            key = (key[0], tuple(("tensor", s.dtype.name, tuple(s.shape)) if e[0] == "tensor"
                                 else e for e, s in zip(key[1], _spread(key[1], specs))))
        concrete = self._concrete.get(key)
        if concrete is None:
            for relaxed_key, _, candidate in self._relaxed:
                if relaxed_key == key:
                    concrete = candidate
        if concrete is None:
            _, concrete = self._trace(arguments, key, tensors, specs, names, keep,
                                      dry_run=bool(placeholders))
        return concrete

    def __repr__(self) -> str:
        return f"<tf.function {self._name}>"


def _signature_key(key):
    """The key of a call under an input_signature: its tensors are fixed by the signature, its
    other arguments (such as `self`) still select the graph."""
    return ("signature", tuple(entry for entry in key[1] if entry[0] != "tensor"))


def _spread(entries, specs):
    """Pair each key entry with the spec of its tensor (None for non-tensor entries)."""
    specs = iter(specs)
    return [next(specs) if entry[0] == "tensor" else None for entry in entries]


def _save_random_states():
    """A function putting back the state of the global random generators and of every
    tf.random.Generator as it is now."""
    import gc

    from .. import random as tf_random
    from ..random.generator import Generator

    global_state = tf_random._global_generator.bit_generator.state
    op_states = {key: g.bit_generator.state for key, g in tf_random._op_generators.items()}
    generators = [(g, g._state_var.numpy().copy()) for g in gc.get_objects()
                  if isinstance(g, Generator)]

    def restore() -> None:
        tf_random._global_generator.bit_generator.state = global_state
        for key, state in op_states.items():
            if key in tf_random._op_generators:
                tf_random._op_generators[key].bit_generator.state = state
        for generator, state in generators:
            generator._state_var.assign(state)
    return restore


def _holds_tensors(value) -> bool:
    leaves: list = []
    flatten(value, leaves)
    return any(isinstance(leaf, (Tensor, np.ndarray)) for leaf in leaves)


def _structure(value):
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in value.items()))
    return "."
