/** Parse-tree nodes of a template and their Go-style text (used in error messages). */

interface Base { pos: number }
export interface TextNode extends Base { type: 'text'; text: string }
export interface ListNode extends Base { type: 'list'; nodes: Node[] }
export interface FieldNode extends Base { type: 'field'; idents: string[] }
export interface VariableNode extends Base { type: 'variable'; idents: string[] }
export interface IdentifierNode extends Base { type: 'identifier'; name: string }
export interface DotNode extends Base { type: 'dot' }
export interface NilNode extends Base { type: 'nil' }
export interface BoolNode extends Base { type: 'bool'; value: boolean }
export interface NumberNode extends Base { type: 'number'; value: number; isInt: boolean; isFloat: boolean; text: string; /** a float constant in Go (`1.0`, `1e3`) */ float: boolean }
export interface StringNode extends Base { type: 'string'; value: string; quoted: string }
export interface ChainNode extends Base { type: 'chain'; node: Arg; fields: string[] }
export interface PipeNode extends Base { type: 'pipe'; line: number; isAssign: boolean; decl: VariableNode[]; cmds: CommandNode[] }
export interface CommandNode extends Base { type: 'command'; args: Arg[] }
export interface ActionNode extends Base { type: 'action'; line: number; pipe: PipeNode }
export interface BranchNode extends Base { type: 'if' | 'range' | 'with'; line: number; pipe: PipeNode; list: ListNode; elseList: ListNode | null }
export interface TemplateNode extends Base { type: 'template'; line: number; name: string; pipe: PipeNode | null }
export interface BreakNode extends Base { type: 'break' | 'continue' }
/** Internal markers returned by the parser for `{{end}}` and `{{else}}`. */
export interface EndNode extends Base { type: 'end' | 'else' }

export type Arg = FieldNode | VariableNode | IdentifierNode | DotNode | NilNode | BoolNode | NumberNode | StringNode | ChainNode | PipeNode;
export type Node = TextNode | ListNode | ActionNode | BranchNode | TemplateNode | BreakNode | EndNode | CommandNode | Arg;

export function nodeString(n: Node): string {
  switch (n.type) {
    case 'text': return JSON.stringify(n.text);
    case 'list': return n.nodes.map(nodeString).join('');
    case 'field': return n.idents.map((i) => '.' + i).join('');
    case 'variable': return n.idents.join('.');
    case 'identifier': return n.name;
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'bool': return String(n.value);
    case 'number': return n.text;
    case 'string': return n.quoted;
    case 'chain': return (n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) + n.fields.map((f) => '.' + f).join('');
    case 'pipe': {
      const decl = n.decl.length ? n.decl.map(nodeString).join(', ') + (n.isAssign ? ' = ' : ' := ') : '';
      return decl + n.cmds.map(nodeString).join(' | ');
    }
    case 'command': return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'action': return `{{${nodeString(n.pipe)}}}`;
    case 'if': case 'range': case 'with':
      return `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}${n.elseList ? `{{else}}${nodeString(n.elseList)}` : ''}{{end}}`;
    case 'template': return `{{template ${JSON.stringify(n.name)}${n.pipe ? ' ' + nodeString(n.pipe) : ''}}}`;
    case 'break': case 'continue': case 'end': case 'else': return `{{${n.type}}}`;
  }
}
