import type { Metadata } from '@grpc/grpc-js';
import type { PollyApp } from '../../app/polly-app.js';
import { isPollyError } from '../../core/errors.js';
import { parseCapability } from './capabilities.js';
import type { CallerResolver } from './caller.js';
import { invalidArgument } from './errors.js';
import type * as csi from './proto.js';
import { requireField } from './requests.js';

/** publish_context keys the Node service reads back in NodeStage/NodePublish. */
export const PUBLISH_CONTEXT = { attachment: 'polly.csi.dev/attachment', fencingToken: 'polly.csi.dev/fencing-token' } as const;

/** ControllerPublishVolume → an attachment of the volume to the node (idempotent; VOLUME_BUSY is FAILED_PRECONDITION). */
export async function controllerPublish(app: PollyApp, callers: CallerResolver, req: csi.ControllerPublishVolumeRequest, md: Metadata): Promise<csi.ControllerPublishVolumeResponse> {
  const volumeId = requireField(req.volume_id, 'volume_id');
  const node = requireField(req.node_id, 'node_id');
  if (req.volume_capability === null) throw invalidArgument('volume_capability is required');
  const cap = parseCapability(req.volume_capability, 'volume_capability');
  const caller = await callers.resolve(req.secrets, md);
  const readOnly = req.readonly || cap.csiMode === 'SINGLE_NODE_READER_ONLY' || cap.csiMode === 'MULTI_NODE_READER_ONLY';
  const a = await app.attachments.attach(caller, volumeId, { node, accessMode: cap.accessMode, readOnly });
  // A networked driver's own context (where its node half maps the volume from) travels along, as in CSI.
  return { publish_context: { ...a.publishContext, [PUBLISH_CONTEXT.attachment]: a.id, [PUBLISH_CONTEXT.fencingToken]: String(a.fencingToken) } };
}

/** ControllerUnpublishVolume → ends the caller's attachments of the volume (to one node, or all); absent is success. */
export async function controllerUnpublish(app: PollyApp, callers: CallerResolver, req: csi.ControllerUnpublishVolumeRequest, md: Metadata): Promise<csi.EmptyResponse> {
  const volumeId = requireField(req.volume_id, 'volume_id');
  const caller = await callers.resolve(req.secrets, md);
  const live = await app.attachments.list(caller, { volumeId, node: req.node_id === '' ? undefined : req.node_id });
  for (const a of live) {
    await app.attachments.detach(caller, a.id).catch((err: unknown) => {
      if (!(isPollyError(err) && err.code === 'ATTACHMENT_NOT_FOUND')) throw err;
    });
  }
  return {};
}
