// The audit log's hash chain, verified on load and on demand: whether every
// entry's hash still recomputes and links to the one before.
import { useQuery } from '@tanstack/react-query';
import { verifyChain } from '../../api/audit';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime } from '../../ui/format';
import { b64ToHex, nonEmpty } from './model';

const count = new Intl.NumberFormat();

export const verifyQuery = {
  queryKey: ['audit', 'verify'] as const,
  queryFn: ({ signal }: { signal: AbortSignal }) => verifyChain(signal),
  // A verification is only as old as the button press that asked for it.
  staleTime: 0,
};

export function ChainStatus() {
  const v = useQuery(verifyQuery);
  const r = v.data;
  const hash = b64ToHex(r?.lastHash);
  return (
    <div className="card audit-chain" aria-labelledby="audit-chain-title" role="region" aria-busy={v.isFetching}>
      <div className="audit-chain-head">
        <h2 id="audit-chain-title" className="card-title audit-chain-title">
          Chain status
        </h2>
        <button
          type="button"
          className="button"
          disabled={v.isFetching}
          onClick={() => {
            void v.refetch();
          }}
        >
          {v.isFetching ? 'Verifying…' : 'Verify now'}
        </button>
      </div>
      {v.isPending && v.isFetching ? <p className="muted audit-chain-line">Verifying the chain…</p> : null}
      <ErrorMessage error={v.error} title="Cannot verify the chain" />
      {r ? (
        r.ok ? (
          <p className="audit-chain-line" data-tone="success" role="status">
            <span aria-hidden="true">✓ </span>
            Chain verified: {count.format(Number(r.entriesChecked ?? 0))} entries
            {hash ? (
              <>
                , last hash{' '}
                <code className="audit-hash" title={hash}>
                  {hash.slice(0, 12)}…
                </code>
              </>
            ) : null}
          </p>
        ) : (
          <p className="audit-chain-line" data-tone="error" role="alert">
            <span aria-hidden="true">✗ </span>
            BROKEN at entry {r.firstBrokenSeq ?? '?'}: {nonEmpty(r.reason) ?? 'the chain does not verify'}
          </p>
        )
      ) : null}
      {r && v.dataUpdatedAt > 0 ? (
        <p className="small muted audit-chain-when">Checked {formatTime(new Date(v.dataUpdatedAt).toISOString())}</p>
      ) : null}
    </div>
  );
}
