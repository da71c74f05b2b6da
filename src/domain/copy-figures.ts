/**
 * The live figures of a copy as the import status shows them (this service's extension to
 * `upload.uploadState`): what is copied of how much, the speed the last checkpoint measured, and
 * the time left at that speed.
 */
export interface CopyRecord {
  status: 'INITIAL' | 'IN_PROGRESS' | 'DONE' | 'FAILED';
  bytesCopied: number;
  totalBytes: number;
  /** The speed saved with the last checkpoint (see CopyCheckpointer), or null. */
  bytesPerSecond: number | null;
}

export interface CopyFigures {
  bytesCopied: number;
  totalBytes: number;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
}

export function copyFigures(record: CopyRecord): CopyFigures {
  const { status, totalBytes } = record;
  if (status === 'DONE') return { bytesCopied: totalBytes, totalBytes, bytesPerSecond: null, etaSeconds: 0 };
  const bytesCopied = Math.min(record.bytesCopied, totalBytes);
  if (status !== 'IN_PROGRESS') return { bytesCopied, totalBytes, bytesPerSecond: null, etaSeconds: null };
  const rate = record.bytesPerSecond;
  const etaSeconds = rate !== null && rate > 0 ? Math.ceil((totalBytes - bytesCopied) / rate) : null;
  return { bytesCopied, totalBytes, bytesPerSecond: rate, etaSeconds };
}
