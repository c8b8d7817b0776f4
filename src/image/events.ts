/** Progress events of pull, push and load, in Docker's vocabulary (one id per layer). */

export interface ProgressEvent {
  /** short id of the layer (12 hex digits), or a tag / '' for whole-image messages */
  id: string;
  /** "Pulling fs layer", "Downloading", "Extracting", "Pull complete", "Pushed", … */
  status: string;
  current?: number;
  total?: number;
  detail?: string;
}

export type ProgressFn = (e: ProgressEvent) => void;

export const noProgress: ProgressFn = () => {};
