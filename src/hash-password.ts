import { hashSecret } from './domain/password.js';

// Entry point of `devicegate hash-password` (dispatched by src/bin.ts): reads a password or client
// secret from stdin (first line) and prints its scrypt PHC hash, for client_secret_hash and
// users[].password_hash in the config file. Server-side, so it lives beside the server, not in the CLI.
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const secret = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
if (!secret) {
  process.stderr.write('devicegate hash-password: no password on stdin\n');
  process.exitCode = 2; // usage, like the CLI's other commands
} else {
  process.stdout.write(`${await hashSecret(secret)}\n`);
}
