import { relative, sep } from 'node:path';
import type { Command } from 'commander';
import { isPollyError } from '../../core/errors.js';
import { VERSION } from '../../version.js';
import { UsageError } from '../errors.js';
import { note } from '../output.js';

/** `./data/admin.token` when the file is under the working directory, else the absolute path. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? `.${sep}${rel}` : file;
}

function describeStore(dialect: string, url: string): string {
  if (dialect === 'sqlite') return `sqlite ${displayPath(url.replace(/^sqlite:(\/\/)?/, ''))}`;
  return `${dialect} ${url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')}`;
}

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('Run the Polly server (REST API, scheduler, reconciler) in the foreground')
    .option('--config <file>', 'configuration file (default: $POLLY_CONFIG, else /etc/polly/config.yml when present)')
    .action(async (opts: { config?: string }) => {
      // Loaded here, not at the top: every other command stays a thin HTTP client.
      const { loadConfig } = await import('../../config/config.js');
      const { PollyServer } = await import('../../server.js');

      let config;
      try {
        config = loadConfig({ file: opts.config });
      } catch (err) {
        throw isPollyError(err) ? new UsageError(err.message) : err;
      }
      let server;
      try {
        server = await PollyServer.create(config);
      } catch (err) {
        throw isPollyError(err) && err.code === 'VALIDATION_FAILED' ? new UsageError(err.message) : err;
      }
      try {
        await server.start();
      } catch (err) {
        await server.stop().catch(() => undefined);
        const e = err as NodeJS.ErrnoException;
        const where = `${config.listen.host}:${config.listen.port}`;
        if (e.code === 'EADDRINUSE') throw new Error(`cannot listen on ${where}: address already in use`);
        if (e.code === 'EACCES') throw new Error(`cannot listen on ${where}: permission denied`);
        throw err;
      }

      // stdout carries only the JSON log (for collectors); these lines for the operator go to stderr.
      const store = server.app.ctx.store;
      note(`Polly ${VERSION} serving ${server.url} (store: ${describeStore(store.dialect, store.url)})`);
      if (server.adminTokenFile) {
        const shown = displayPath(server.adminTokenFile);
        note(`Admin token: ${shown} (export POLLY_TOKEN=$(cat ${shown}))`);
      } else if (config.adminToken !== undefined) {
        note(`Admin token: from ${process.env.POLLY_ADMIN_TOKEN ? 'POLLY_ADMIN_TOKEN' : `the configuration (${config.source})`}`);
      } else {
        note('Admin token: issued at an earlier start (its admin.token file is gone; set POLLY_ADMIN_TOKEN to register one)');
      }
      note(`Dashboard: ${server.url}/ui/ (sign in with a token)`);

      let stopping = false;
      const shutdown = (signal: NodeJS.Signals) => {
        if (stopping) {
          note(`polly: ${signal} again; exiting without a clean stop`);
          process.exit(1);
        }
        stopping = true;
        server.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            note(`polly: stop failed: ${(err as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
      // SIGHUP: rotate the TLS certificate without dropping the listener (cert-manager, certbot hooks).
      process.on('SIGHUP', () => {
        try {
          if (server.reloadTls()) note('TLS certificate reloaded');
          else note('polly: SIGHUP ignored (no tls configured)');
        } catch (err) {
          note(`polly: TLS reload failed, keeping the previous certificate: ${(err as Error).message}`);
        }
      });
    });
}
