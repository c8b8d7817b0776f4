/** `berth image COMMAND`: the image management subcommands. */
import { print, printErr } from './common.js';
import * as history from './history.js';
import * as importCmd from './import.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as load from './load.js';
import * as prune from './prune.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as rmi from './rmi.js';
import * as save from './save.js';
import * as tag from './tag.js';

const HELP = `
Usage:  berth image COMMAND

Manage images

Commands:
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Display detailed information on one or more images
  load        Load an image from a tar archive or STDIN
  ls          List images
  prune       Remove unused images
  pull        Download an image from a registry
  push        Upload an image to a registry
  rm          Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE

Run 'berth image COMMAND --help' for more information on a command.
`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'ls': case 'list': return images.run(rest, 'image ls');
    case 'inspect': return inspect.run(rest);
    case 'rm': case 'remove': return rmi.run(rest, 'image rm');
    case 'prune': return prune.run(rest);
    case 'history': return history.run(rest, 'image history');
    case 'tag': return tag.run(rest);
    case 'save': return save.run(rest, 'image save');
    case 'load': return load.run(rest, 'image load');
    case 'pull': return pull.run(rest);
    case 'import': return importCmd.run(rest, 'image import');
    case 'push': return push.run(rest);
    case undefined: case '--help': case '-h': case 'help':
      print(HELP);
      return sub === undefined ? 1 : 0;
    default:
      printErr(`berth image: '${sub}' is not a berth image command.\nSee 'berth image --help'`);
      return 1;
  }
}
