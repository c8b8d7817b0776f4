/** `berth build`: Dockerfile parsing, expansion, the stage graph, the executor and its cache. */
export { build, type BuildOptions, type BuildResult } from './executor.js';
export { BuildCache } from './cache.js';
export { StepFailed } from './step.js';
export { parseDockerfile, DockerfileError, type Node, type Heredoc } from './parser.js';
export { toDockerfile, type Dockerfile, type Instruction, type Stage } from './instructions.js';
export { expandWord, expandWords } from './lex.js';
export { PatternMatcher, readIgnore } from './dockerignore.js';
export { type BuildSecret, type BuildSsh } from './mounts.js';
export { parseOutput, type BuildOutput } from './export.js';
