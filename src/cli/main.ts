import { Command } from 'commander';
import { hashSecret } from '../domain/password.js';

const program = new Command('devicegate').description('OAuth 2.0 Device Authorization Grant (RFC 8628) server tools');

program
  .command('hash-password')
  .description(
    'Read a password or client secret from stdin (first line) and print its scrypt PHC hash, for ' +
      'client_secret_hash (and later users[].password_hash) in the config file.',
  )
  .action(async () => {
    const secret = (await readStdin()).split(/\r?\n/)[0] ?? '';
    if (!secret) {
      process.stderr.write('devicegate hash-password: no password on stdin\n');
      process.exitCode = 64; // EX_USAGE
      return;
    }
    process.stdout.write(`${await hashSecret(secret)}\n`);
  });

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

await program.parseAsync(process.argv);
