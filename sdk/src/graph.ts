import { ValidationError } from './errors.ts';
import type { Executor } from './executor.ts';
import { integerIn, jsonObject, numberIn, requireText, type NamespacePolicy } from './validate.ts';
import { vectorLiteral, type Embedding } from './vector.ts';

/** A node of a namespace's knowledge graph (table graph_nodes), found by its key. */
export interface GraphNode {
  id: string;
  namespace: string;
  key: string;
  label: string;
  properties: Record<string, unknown>;
  createdAt: Date;
}

/** A directed, labelled edge between two node keys (table graph_edges). */
export interface GraphEdge {
  id: string;
  namespace: string;
  source: string;
  target: string;
  relation: string;
  weight: number;
  properties: Record<string, unknown>;
  createdAt: Date;
}

export interface Neighbor {
  node: GraphNode;
  edge: GraphEdge;
  /** 'out': node is the edge's target; 'in': its source. */
  direction: 'out' | 'in';
}

const NODE = 'id, namespace, node_key, label, properties, created_at';
const EDGE = 'id, namespace, source_key, target_key, relation, weight, properties, created_at';

const toNode = (r: Record<string, unknown>, prefix = ''): GraphNode => ({
  id: r[`${prefix}id`] as string,
  namespace: r[`${prefix}namespace`] as string,
  key: r[`${prefix}node_key`] as string,
  label: r[`${prefix}label`] as string,
  properties: r[`${prefix}properties`] as Record<string, unknown>,
  createdAt: r[`${prefix}created_at`] as Date,
});

const toEdge = (r: Record<string, unknown>, prefix = ''): GraphEdge => ({
  id: r[`${prefix}id`] as string,
  namespace: r[`${prefix}namespace`] as string,
  source: r[`${prefix}source_key`] as string,
  target: r[`${prefix}target_key`] as string,
  relation: r[`${prefix}relation`] as string,
  weight: Number(r[`${prefix}weight`]),
  properties: r[`${prefix}properties`] as Record<string, unknown>,
  createdAt: r[`${prefix}created_at`] as Date,
});

/** A namespace's graph: all of it lives on the namespace's shard, so a neighbour query is one shard's join. */
export class Graph {
  constructor(
    private readonly db: Executor,
    private readonly policy: NamespacePolicy,
    private readonly dimensions: number,
  ) {}

  /** Adds the node, or replaces the label, properties and embedding of the node with its key. */
  async upsertNode(node: { namespace: string; key: string; label: string; properties?: Record<string, unknown>; embedding?: Embedding | null }): Promise<GraphNode> {
    if (node === null || typeof node !== 'object') throw new ValidationError('node must be an object');
    const ns = this.policy.check(node.namespace);
    const result = await this.db.query(
      `INSERT INTO graph_nodes (namespace, node_key, label, properties, embedding) VALUES ($1, $2, $3, $4::jsonb, $5::vector)
       ON CONFLICT (namespace, node_key) DO UPDATE SET label = EXCLUDED.label, properties = EXCLUDED.properties, embedding = EXCLUDED.embedding
       RETURNING ${NODE}`,
      [ns, requireText(node.key, 'key'), requireText(node.label, 'label'), jsonObject(node.properties, 'properties'), node.embedding == null ? null : vectorLiteral(node.embedding, this.dimensions)],
      { idempotent: true, namespace: ns },
    );
    return toNode(result.rows[0]!);
  }

  async getNode(namespace: string, key: string): Promise<GraphNode | null> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(`SELECT ${NODE} FROM graph_nodes WHERE namespace = $1 AND node_key = $2`, [ns, requireText(key, 'key')], { namespace: ns });
    return result.rows[0] ? toNode(result.rows[0]) : null;
  }

  /** Deletes the node and every edge to or from it; false when there was no node. */
  async deleteNode(namespace: string, key: string): Promise<boolean> {
    const ns = this.policy.check(namespace);
    requireText(key, 'key');
    return this.db.transaction(async (client) => {
      await client.query('DELETE FROM graph_edges WHERE namespace = $1 AND (source_key = $2 OR target_key = $2)', [ns, key]);
      return ((await client.query('DELETE FROM graph_nodes WHERE namespace = $1 AND node_key = $2', [ns, key])).rowCount ?? 0) > 0;
    }, { namespace: ns });
  }

  /** Adds the edge source -[relation]-> target, or replaces its weight and properties. */
  async upsertEdge(edge: { namespace: string; source: string; target: string; relation: string; weight?: number; properties?: Record<string, unknown> }): Promise<GraphEdge> {
    if (edge === null || typeof edge !== 'object') throw new ValidationError('edge must be an object');
    const ns = this.policy.check(edge.namespace);
    const result = await this.db.query(
      `INSERT INTO graph_edges (namespace, source_key, target_key, relation, weight, properties) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (namespace, source_key, relation, target_key) DO UPDATE SET weight = EXCLUDED.weight, properties = EXCLUDED.properties
       RETURNING ${EDGE}`,
      [ns, requireText(edge.source, 'source'), requireText(edge.target, 'target'), requireText(edge.relation, 'relation'), numberIn(edge.weight ?? 1, 'weight', -1e30, 1e30), jsonObject(edge.properties, 'properties')],
      { idempotent: true, namespace: ns },
    );
    return toEdge(result.rows[0]!);
  }

  async deleteEdge(edge: { namespace: string; source: string; target: string; relation: string }): Promise<boolean> {
    const ns = this.policy.check(edge.namespace);
    const result = await this.db.query(
      'DELETE FROM graph_edges WHERE namespace = $1 AND source_key = $2 AND target_key = $3 AND relation = $4',
      [ns, requireText(edge.source, 'source'), requireText(edge.target, 'target'), requireText(edge.relation, 'relation')],
      { namespace: ns },
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * The nodes one edge away from `key`: 'out' along its edges, 'in' against them,
   * 'both' (default); of one relation if given; heaviest edges first.
   */
  async neighbors(namespace: string, key: string, options: { direction?: 'out' | 'in' | 'both'; relation?: string; limit?: number } = {}): Promise<Neighbor[]> {
    const ns = this.policy.check(namespace);
    requireText(key, 'key');
    const direction = options.direction ?? 'both';
    if (!['out', 'in', 'both'].includes(direction)) throw new ValidationError(`direction must be 'out', 'in' or 'both', got ${JSON.stringify(direction)}`);
    const values: unknown[] = [ns, key, integerIn(options.limit ?? 100, 'limit', 1, 10_000)];
    let relation = '';
    if (options.relation !== undefined) {
      values.push(requireText(options.relation, 'relation'));
      relation = 'AND e.relation = $4';
    }
    // One statement pinned to the namespace's shard: the edges at the node, each joined to the node at its other end.
    const along = direction === 'out' ? 'e.source_key = $2' : direction === 'in' ? 'e.target_key = $2' : '(e.source_key = $2 OR e.target_key = $2)';
    const other = direction === 'in' ? 'e.source_key' : direction === 'out' ? 'e.target_key' : 'CASE WHEN e.source_key = $2 THEN e.target_key ELSE e.source_key END';
    const result = await this.db.query(
      `SELECT CASE WHEN e.source_key = $2 ${direction === 'in' ? 'AND false ' : ''}THEN 'out' ELSE 'in' END AS direction,
              ${EDGE.split(', ').map((c) => `e.${c} AS e_${c}`).join(', ')}, ${NODE.split(', ').map((c) => `n.${c} AS n_${c}`).join(', ')}
       FROM graph_edges e JOIN graph_nodes n ON n.namespace = e.namespace AND n.node_key = ${other}
       WHERE e.namespace = $1 AND n.namespace = $1 AND ${along} ${relation}
       ORDER BY e.weight DESC, n.node_key LIMIT $3`,
      values,
      { namespace: ns },
    );
    return result.rows.map((r) => ({ node: toNode(r, 'n_'), edge: toEdge(r, 'e_'), direction: r.direction }));
  }
}
