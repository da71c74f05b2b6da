/**
 * What a person can do with one video: download the copy (its CRC32C shown), restart or abandon a
 * failed copy, rename, and delete (the confirmation names the derived videos that go with it).
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { call, type Video } from '../api/client';
import { queryKeys } from '../api/queries';
import { ErrorDisplay } from '../components/error-display';
import { formatBytes, formatCrc32c } from '../format/format';
import { useApi } from '../session/session';
import { useTeamPath } from '../session/team';
import styles from './video-sections.module.css';

export function DownloadPanel({ video }: { video: Video }) {
  const api = useApi();
  const link = useMutation({
    mutationFn: () => call(api.POST('/api/v1/videos/{videoId}/out/https', { params: { path: { videoId: video.id } } })),
  });
  return (
    <div className={styles.panel}>
      <button type="button" onClick={() => link.mutate()} disabled={link.isPending}>
        Get a download link
      </button>
      {link.error === null ? null : <ErrorDisplay error={link.error} />}
      {link.data === undefined ? null : (
        <p data-testid="download">
          <a href={link.data.presignedUrl} download={link.data.suggestedFileName}>
            Download {link.data.suggestedFileName}
          </a>{' '}
          ({formatBytes(link.data.fileSize)}) · CRC32C{' '}
          <code data-testid="crc32c">{formatCrc32c(link.data.crc32cChecksum)}</code> ({link.data.crc32cChecksum}) · link
          valid until {new Date(link.data.expiresAt).toLocaleTimeString()}
        </p>
      )}
    </div>
  );
}

export function FailedCopyActions({ video }: { video: Video }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const teamPath = useTeamPath();
  const code = video.upload?.uploadState.error?.code;
  const [skipChecksum, setSkipChecksum] = useState(false);
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: queryKeys.video(video.id) });
    await queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
  };
  const restart = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/videos/{videoId}/in/restart', {
          params: { path: { videoId: video.id }, query: skipChecksum ? { skipChecksumValidation: true } : {} },
        }),
      ),
    onSuccess: refresh,
  });
  const abandon = useMutation({
    mutationFn: () =>
      call(api.DELETE('/api/v1/videos/{videoId}/in/abandon', { params: { path: { videoId: video.id } } })),
    onSuccess: async () => {
      await refresh();
      void navigate(teamPath('/videos'));
    },
  });
  return (
    <div className={styles.panel} data-testid="failed-copy-actions">
      {code === 'CHECKSUM_MISMATCH' ? (
        <label className={styles.check}>
          <input type="checkbox" checked={skipChecksum} onChange={(event) => setSkipChecksum(event.target.checked)} />
          Accept the copied bytes as they are (skip the checksum check)
        </label>
      ) : null}
      <div className={styles.buttons}>
        <button type="button" className="primary" onClick={() => restart.mutate()} disabled={restart.isPending}>
          Restart the copy
        </button>
        <button type="button" className="danger" onClick={() => abandon.mutate()} disabled={abandon.isPending}>
          Abandon the import
        </button>
      </div>
      {restart.error === null ? null : <ErrorDisplay error={restart.error} title="The copy could not be restarted" />}
      {abandon.error === null ? null : <ErrorDisplay error={abandon.error} title="The import could not be abandoned" />}
    </div>
  );
}

export function RenameForm({ video }: { video: Video }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [name, setName] = useState(video.name);
  const rename = useMutation({
    mutationFn: () =>
      call(api.PATCH('/api/v1/videos/{videoId}', { params: { path: { videoId: video.id } }, body: { name } })),
    onSuccess: async (updated) => {
      queryClient.setQueryData(queryKeys.video(video.id), updated);
      await queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
    },
  });
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    rename.mutate();
  }
  return (
    <form className={styles.inlineForm} onSubmit={submit}>
      <label>
        <span>Name</span>
        <input value={name} onChange={(event) => setName(event.target.value)} name="name" />
      </label>
      <button type="submit" disabled={rename.isPending || name === video.name}>
        Rename
      </button>
      {rename.error === null ? null : <ErrorDisplay error={rename.error} title="The video could not be renamed" />}
    </form>
  );
}

export function DeleteVideo({ video, derived }: { video: Video; derived: Video[] }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const teamPath = useTeamPath();
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () =>
      call(
        api.DELETE('/api/v1/videos/{videoId}', {
          params: { path: { videoId: video.id } },
          // The ids the person saw: the API refuses (409) if more derived videos appeared since.
          body: derived.map((item) => item.id),
        }),
      ),
    onSuccess: async () => {
      setOpen(false);
      queryClient.removeQueries({ queryKey: queryKeys.video(video.id) });
      await queryClient.invalidateQueries({ queryKey: queryKeys.videoLists });
      void navigate(teamPath('/videos'));
    },
  });
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);

  return (
    <>
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Delete…
      </button>
      <dialog ref={dialog} className={styles.dialog} onClose={() => setOpen(false)} aria-labelledby="delete-title">
        <h2 id="delete-title">Delete “{video.name}”?</h2>
        {derived.length === 0 ? (
          <p>The video and its files are deleted. This cannot be undone.</p>
        ) : (
          <>
            <p>
              The video, its files and{' '}
              {derived.length === 1 ? 'this derived video' : `these ${derived.length} derived videos`} are deleted. This
              cannot be undone.
            </p>
            <ul data-testid="delete-derived">
              {derived.map((item) => (
                <li key={item.id}>{item.name}</li>
              ))}
            </ul>
          </>
        )}
        {remove.error === null ? null : <ErrorDisplay error={remove.error} title="The video could not be deleted" />}
        <div className={styles.buttons}>
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
            Delete
          </button>
        </div>
      </dialog>
    </>
  );
}
