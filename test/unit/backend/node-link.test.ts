import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { BackendConnection, ConnectFailedError } from '../../../src/backend/backend-connection.ts';

// The coordinator's side of a link to a node, against fake nodes: it never gives its
// password to a server that asks for it in cleartext (or as MD5), and a link meant to be
// TLS is not made in cleartext.

async function fakeNode(onConnection: (socket: Socket, received: Buffer[]) => void): Promise<{ server: Server; port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on('data', (chunk) => received.push(chunk));
    onConnection(socket, received);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, received };
}

/** An Authentication message (protocol page "Message Formats": 'R', length, code). */
function authentication(code: number): Buffer {
  const message = Buffer.alloc(9);
  message.write('R', 0);
  message.writeInt32BE(8, 1);
  message.writeInt32BE(code, 5);
  return message;
}

const PASSWORD = 'the-node-password';

for (const [code, how] of [[3, 'cleartext'], [5, 'MD5']] as const) {
  test(`a node asking for the password in ${how} gets no password: the connection fails`, async () => {
    const node = await fakeNode((socket) => socket.once('data', () => socket.write(code === 5 ? Buffer.concat([authentication(5).subarray(0, 1), Buffer.from([0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4])]) : authentication(3))));
    try {
      await assert.rejects(BackendConnection.open({ host: '127.0.0.1', port: node.port, user: 'dpg_coordinator', password: PASSWORD, database: 'db', connectTimeoutMs: 2000 }), (error: Error) => {
        assert.ok(error instanceof ConnectFailedError, String(error));
        assert.match(error.message, /SCRAM/);
        return true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(!Buffer.concat(node.received).includes(Buffer.from(PASSWORD)), 'the password never reached the node');
    } finally {
      node.server.close();
    }
  });
}

test("a link meant to be TLS is not made when the node answers SSLRequest with 'N'", async () => {
  const node = await fakeNode((socket) => socket.once('data', () => socket.write('N')));
  try {
    await assert.rejects(
      BackendConnection.open({ host: '127.0.0.1', port: node.port, user: 'u', password: PASSWORD, database: 'db', connectTimeoutMs: 2000, tls: { ca: Buffer.from('') } }),
      (error: Error) => error instanceof ConnectFailedError && /does not offer TLS/.test(error.message),
    );
    // Only the 8-byte SSLRequest went out: no startup packet with the user name in cleartext.
    assert.deepEqual(Buffer.concat(node.received), Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  } finally {
    node.server.close();
  }
});

test("bytes after the node's 'S' (before the TLS handshake) end the connection (injection, CVE-2021-23214)", async () => {
  const node = await fakeNode((socket) => socket.once('data', () => socket.write(Buffer.concat([Buffer.from('S'), authentication(0)]))));
  try {
    await assert.rejects(
      BackendConnection.open({ host: '127.0.0.1', port: node.port, user: 'u', password: PASSWORD, database: 'db', connectTimeoutMs: 2000, tls: { ca: Buffer.from('') } }),
      (error: Error) => error instanceof ConnectFailedError,
    );
  } finally {
    node.server.close();
  }
});
