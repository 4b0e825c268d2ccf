import type { Frame } from '../protocol/frames.ts';
import { decodeBackend, encodeRowDescription, type FieldDescription } from '../protocol/backend.ts';
import type { GroupPool } from '../backend/pool.ts';

/** OIDs below this are assigned at initdb and equal on every node (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

interface NamedType {
  oid: number;
  schema: string;
  name: string;
}

/**
 * Maps one node's OIDs of extension types (pgvector's vector, ruvector, their arrays)
 * onto the control group's, which is the one set clients see: RowDescription and
 * ParameterDescription from a worker are rewritten before they reach the client.
 */
export class TypeMap {
  private readonly workerToClient = new Map<number, number>();
  /** The same statement gives the same RowDescription every time: remember the last few translations. */
  private readonly translated = new Map<string, Buffer>();
  private readonly clientToWorker = new Map<number, number>();

  constructor(worker: NamedType[], control: NamedType[]) {
    const byName = new Map(control.map((t) => [`${t.schema}.${t.name}`, t.oid]));
    for (const t of worker) {
      const clientOid = byName.get(`${t.schema}.${t.name}`);
      if (clientOid !== undefined) {
        this.workerToClient.set(t.oid, clientOid);
        this.clientToWorker.set(clientOid, t.oid);
      }
    }
  }

  static async readTypes(pool: GroupPool): Promise<NamedType[]> {
    const connection = await pool.acquire();
    try {
      const result = await connection.simpleQuery(
        `SELECT t.oid, n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= ${FIRST_NORMAL_OID}`,
      );
      return result.rows.map(([oid, schema, name]) => ({ oid: Number(oid), schema: schema!, name: name! }));
    } finally {
      pool.release(connection);
    }
  }

  toClient(oid: number): number {
    return oid < FIRST_NORMAL_OID ? oid : (this.workerToClient.get(oid) ?? oid);
  }

  toWorker(oid: number): number {
    return oid < FIRST_NORMAL_OID ? oid : (this.clientToWorker.get(oid) ?? oid);
  }

  /**
   * The RowDescription a client should see: extension type OIDs mapped, and the
   * shard table's OID cleared (it names a relation the client's catalog does not have).
   * Returns the frame unchanged when nothing needs mapping.
   */
  rowDescription(frame: Frame, drop = 0): Buffer {
    const key = `${drop}:${frame.raw.toString('latin1')}`;
    const known = this.translated.get(key);
    if (known) return known;
    const translated = this.translateRowDescription(frame, drop);
    if (this.translated.size >= 512) this.translated.delete(this.translated.keys().next().value!);
    this.translated.set(key, translated);
    return translated;
  }

  private translateRowDescription(frame: Frame, drop: number): Buffer {
    const message = decodeBackend(frame);
    if (message.type !== 'RowDescription') return frame.raw;
    const fields = drop > 0 ? message.fields.slice(0, message.fields.length - drop) : message.fields;
    if (drop === 0 && fields.every((f) => f.typeOid < FIRST_NORMAL_OID && f.tableOid === 0)) return frame.raw;
    return encodeRowDescription(fields.map((f) => this.clientField(f)));
  }

  clientField(field: FieldDescription): FieldDescription {
    return { ...field, typeOid: this.toClient(field.typeOid), tableOid: 0, columnAttribute: 0 };
  }
}
