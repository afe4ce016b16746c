import type { z } from 'zod';
import { readVersionReport } from '../../shared/api/light.js';
import { API_ROUTES as R } from '../../shared/api/routes.js';
import type {
  BaseImageReport,
  BuildImageRequest,
  DoctorReport,
  ImageBuildEvent,
  StatusReport,
  VersionReport,
} from '../../shared/api/system.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

export type ImageBuildDone = Extract<ImageBuildEvent, { type: 'done' }>;

/** The daemon itself: version (on the hot path, read without zod), status, doctor, the base image. */
export class SystemApi {
  constructor(private readonly api: ApiCore) {}

  version(): Promise<VersionReport> {
    return this.api.json('GET', R.system.version, readVersionReport);
  }

  async status(): Promise<StatusReport> {
    const s = await import('../../shared/api/system.js');
    return this.api.json('GET', R.system.status, bySchema(s.StatusReport));
  }

  async doctor(): Promise<DoctorReport> {
    const s = await import('../../shared/api/system.js');
    return this.api.json('GET', R.system.doctor, bySchema(s.DoctorReport));
  }

  async baseImage(): Promise<BaseImageReport> {
    const s = await import('../../shared/api/system.js');
    return this.api.json('GET', R.system.baseImage, bySchema(s.BaseImageReport));
  }

  /** Builds (or reuses) the base image, calling onEvent for every progress line. */
  async buildBaseImage(
    request: z.input<typeof BuildImageRequest>,
    onEvent: (event: ImageBuildEvent) => void,
  ): Promise<ImageBuildDone> {
    const s = await import('../../shared/api/system.js');
    return this.api.build(R.system.baseImage, request, bySchema(s.ImageBuildEvent), onEvent);
  }
}
