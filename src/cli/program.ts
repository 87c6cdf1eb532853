import { Command, Option } from 'commander';
import { VERSION } from '../version.js';
import { registerAgent } from './commands/agent.js';
import { registerAttachment } from './commands/attachment.js';
import { registerEvents } from './commands/events.js';
import { registerOffer } from './commands/offer.js';
import { registerPlacement } from './commands/placement.js';
import { registerNode } from './commands/node.js';
import { registerPool } from './commands/pool.js';
import { registerProfile } from './commands/profile.js';
import { registerQuota } from './commands/quota.js';
import { registerReservation } from './commands/reservation.js';
import { registerServer } from './commands/server.js';
import { registerService } from './commands/service.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerVersion } from './commands/version.js';
import { registerVolume } from './commands/volume.js';
import { collectUrls, DEFAULT_URL, timeoutSeconds } from './context.js';
import { FORMATS } from './output.js';

/** The `polly` command tree. Settings are made before subcommands are added, so they inherit them. */
export function buildProgram(): Command {
  const program = new Command('polly')
    .description('Polly: one multi-tenant control plane handing storage to every container scheduler')
    .version(VERSION, '-V, --version', 'print the client version')
    .addOption(
      new Option('--url <url>', `Polly server URL (default: ${DEFAULT_URL}); several replicas: repeat it or separate by commas, they are failed over`)
        .env('POLLY_URL')
        .argParser(collectUrls),
    )
    .addOption(
      new Option('--token <token>', 'bearer token (default: <POLLY_DATA_DIR or ./data>/admin.token when it exists)').env('POLLY_TOKEN'),
    )
    .addOption(new Option('--ca <file>', 'PEM file of the CA that signed an https server\'s certificate').env('POLLY_CA_FILE'))
    .addOption(
      new Option('--timeout <seconds>', 'how long one attempt waits for a server to answer before the next URL is tried (default: 30; slower requests are waited for)')
        .env('POLLY_TIMEOUT')
        .argParser(timeoutSeconds),
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(FORMATS).default('table'))
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`polly: ${text.replace(/^error: /, '')}`) });

  registerServer(program);
  registerAgent(program);
  registerVersion(program);
  registerService(program);
  registerPool(program);
  registerNode(program);
  registerAttachment(program);
  registerProfile(program);
  registerQuota(program);
  registerVolume(program);
  registerOffer(program);
  registerReservation(program);
  registerPlacement(program);
  registerSnapshot(program);
  registerEvents(program);
  return program;
}
