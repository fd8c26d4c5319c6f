// src/onnx: ONNX graphs built in TypeScript, with reverse-mode autodiff.
// Conventions: opset 17, IR 8; dims are numbers or symbols ('B', 'T'; products 'B*T' from
// reshape). Gradients that must sum over broadcast axes need both sides to agree statically
// (same symbol or static sizes) and throw naming the node otherwise; ReduceMean and Reshape
// gradients read symbolic sizes at run time; Slice/Concat gradients need static sizes on the
// sliced/concatenated axis.
export { Graph, type Operand } from './ops.ts';
export { grad, type GradOptions } from './grad.ts';
export { END } from './shape.ts';
export { OPSET, IR_VERSION, isFloat, type Value, type Node, type TensorData, type DType, type Dim, type Shape } from './graph.ts';
