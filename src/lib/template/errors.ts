/** The one error type the template package throws: a parse or an execution error, Go's text. */
import { BerthError } from '../errors.js';

export class TemplateError extends BerthError {
  constructor(message: string) {
    super({ kind: 'usage', op: 'template', message });
    this.name = 'TemplateError';
  }
}
