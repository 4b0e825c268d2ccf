/**
 * Fields of ErrorResponse and NoticeResponse, each identified on the wire by one byte.
 * https://www.postgresql.org/docs/15/protocol-error-fields.html
 */
export interface NoticeFields {
  severity?: string;
  severityNonLocalized?: string;
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

/** Wire order follows PostgreSQL's own (severity, code, message first). */
export const NOTICE_FIELD_CODES: ReadonlyArray<readonly [keyof NoticeFields, number]> = [
  ['severity', 0x53], // 'S'
  ['severityNonLocalized', 0x56], // 'V'
  ['code', 0x43], // 'C'
  ['message', 0x4d], // 'M'
  ['detail', 0x44], // 'D'
  ['hint', 0x48], // 'H'
  ['position', 0x50], // 'P'
  ['internalPosition', 0x70], // 'p'
  ['internalQuery', 0x71], // 'q'
  ['where', 0x57], // 'W'
  ['schema', 0x73], // 's'
  ['table', 0x74], // 't'
  ['column', 0x63], // 'c'
  ['dataType', 0x64], // 'd'
  ['constraint', 0x6e], // 'n'
  ['file', 0x46], // 'F'
  ['line', 0x4c], // 'L'
  ['routine', 0x52], // 'R'
];

/** Field name by wire byte; unknown bytes map to undefined and are skipped, as the docs ask. */
export const NOTICE_FIELD_BY_CODE: ReadonlyArray<keyof NoticeFields | undefined> = (() => {
  const table = new Array<keyof NoticeFields | undefined>(256).fill(undefined);
  for (const [name, code] of NOTICE_FIELD_CODES) table[code] = name;
  return table;
})();
