import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTalosVersion, grpcFrame, grpcMessages, protoFields } from '../../../src/probe/grpc.js';

test('an empty gRPC request is five zero bytes', () => {
  assert.equal(grpcFrame().toString('hex'), '0000000000');
  assert.equal(grpcFrame(Uint8Array.from([1, 2])).toString('hex'), '00000000020102');
});

test('gRPC frames split into messages; truncated or compressed frames are errors', () => {
  assert.deepEqual(grpcMessages(Buffer.from('0000000001aa0000000000', 'hex')).map((m) => m.toString('hex')), ['aa', '']);
  assert.throws(() => grpcMessages(Buffer.from('00000000050102', 'hex')), /truncated/);
  assert.throws(() => grpcMessages(Buffer.from('0100000000', 'hex')), /compressed/);
});

test('protobuf fields: varint (multi-byte), length-delimited, fixed 32/64', () => {
  // field 1 varint 300, field 2 "hi", field 3 fixed32, field 4 fixed64
  const buf = Buffer.from('08ac02' + '12026869' + '1d01000000' + '210100000000000000', 'hex');
  const fields = protoFields(buf);
  assert.deepEqual(fields.map((f) => [f.field, f.wireType]), [[1, 0], [2, 2], [3, 5], [4, 1]]);
  assert.equal(fields[0].value, 300n);
  assert.equal((fields[1].value as Buffer).toString(), 'hi');
  assert.throws(() => protoFields(Buffer.from('1205ab', 'hex')), /truncated/);
});

test('a Talos VersionResponse as apid sends it (bytes written out by hand)', () => {
  // VersionResponse{ messages: [ Version{ metadata{hostname:"cp-01"}, version{tag:"v1.12.0", arch:"amd64"} } ] }
  const metadata = '0a05' + Buffer.from('cp-01').toString('hex');
  const info = '0a07' + Buffer.from('v1.12.0').toString('hex') + '3205' + Buffer.from('amd64').toString('hex');
  const version = `0a${(metadata.length / 2).toString(16).padStart(2, '0')}${metadata}12${(info.length / 2).toString(16).padStart(2, '0')}${info}`;
  const message = Buffer.from(`0a${(version.length / 2).toString(16).padStart(2, '0')}${version}`, 'hex');
  assert.deepEqual(decodeTalosVersion(message), [{ hostname: 'cp-01', error: undefined, tag: 'v1.12.0', sha: undefined, os: undefined, arch: 'amd64' }]);
});
