/** Parameter values and formats of one execution (empty for the simple query protocol). */
export interface Bindings {
  extended: boolean;
  params: (Buffer | null)[];
  paramFormats: number[];
  paramTypes: number[];
  resultFormats: number[];
  /** Number of visible result columns, needed only to give hidden merge columns the text format. */
  visibleColumns?: () => Promise<number>;
  /** Parameter types as the control group infers them (for the combine query of an aggregate). */
  describedParameterTypes?: () => Promise<number[]>;
}
