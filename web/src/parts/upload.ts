// Image upload (POST /api/files, multipart): avatars and room covers. The
// server re-encodes the image and answers its URL.
import type { FileInfo } from '../../../src/client/index.ts';
import { api } from '../session.ts';

export function uploadImage(file: File, kind: 'avatar' | 'cover'): Promise<FileInfo> {
  const form = new FormData();
  form.append('kind', kind);
  form.append('file', file);
  // no content-type header: fetch writes the multipart boundary itself
  return api.request<FileInfo>('POST', '/files', { body: form });
}
