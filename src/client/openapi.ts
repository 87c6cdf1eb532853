/**
 * REST v1 types generated from /openapi.json by `npm run gen:client` (openapi-typescript).
 * Do not edit by hand: change the route schemas in src/api/rest and regenerate.
 */

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness, and the server version */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/mesos/disk-profiles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Polly profiles as the DiskProfileMapping JSON that Mesos' URI disk profile adaptor polls
         * @description Mesos polls without credentials: then only profiles open to every service are listed. With a bearer token, the profiles that token may use.
         */
        get: operations["getMesosDiskProfiles"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the store answers */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/attachments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Live attachments (a service sees its own) */
        get: operations["listAttachments"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/attachments/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Attachment */
        get: operations["getAttachment"];
        put?: never;
        post?: never;
        /** Detach; `force=true` (admin) fences the holder whatever the volume state */
        delete: operations["detachVolume"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every state change. With `Accept: text/event-stream` a live Server-Sent Events stream (resumes from Last-Event-ID); otherwise a JSON page. */
        get: operations["listEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/group-snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Group Snapshots */
        get: operations["listGroupSnapshots"];
        put?: never;
        /**
         * Snapshot several volumes of one service together
         * @description Idempotent by name: the same name over the same volumes returns the group made first (201), over other volumes 409 GROUP_SNAPSHOT_NAME_TAKEN.
         */
        post: operations["createGroupSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/group-snapshots/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Group Snapshot */
        get: operations["getGroupSnapshot"];
        put?: never;
        post?: never;
        /** Delete a group snapshot and all its member snapshots */
        delete: operations["deleteGroupSnapshot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/identity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The identity of the bearer token (admin or a service) */
        get: operations["getIdentity"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Nodes */
        get: operations["listNodes"];
        put?: never;
        /** Register (or update) a node; agents call this at start */
        post: operations["registerNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Node */
        get: operations["getNode"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}/credentials": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Issue a node credential (admin): a token that may mount only volumes bound or attached to this node, of any service */
        post: operations["createNodeCredential"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}/fence": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm a node down (admin), like Kubernetes’ out-of-service taint: its attachments end at once, so its RWO volumes can move; nothing is attached to it until unfenced */
        post: operations["fenceNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Renew the node's leases; answers the attachments it should hold with their fencing tokens */
        post: operations["heartbeatNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}/self-fence": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** An agent reports that it made these attachments’ volumes unwritable on its node; they end, and the volumes may move */
        post: operations["reportNodeSelfFence"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{id}/unfence": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Lift an operator’s fence (admin) */
        post: operations["unfenceNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/offers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open offers for the caller’s service (refreshed on read); admin: ?service= or all */
        get: operations["listOffers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/offers/{id}/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accept an offer: a reservation that holds capacity and quota until a volume consumes it */
        post: operations["acceptOffer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/offers/{id}/decline": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Decline Offer */
        post: operations["declineOffer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/offers/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Withdraw an offer and release its reservations. Admin only. */
        post: operations["revokeOffer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/placement/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Why a volume would land where it would: every pool, the filter that rejected it or its weights and score */
        post: operations["explainPlacement"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/pools": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List pools with real capacity */
        get: operations["listPools"];
        put?: never;
        /** Add a pool; its backend is checked first. Admin only. */
        post: operations["createPool"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/pools/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Pool */
        get: operations["getPool"];
        put?: never;
        post?: never;
        /** Remove an empty pool (its backend data is not touched). Admin only. */
        delete: operations["deletePool"];
        options?: never;
        head?: never;
        /** Change labels, topology, state (enabled, draining, disabled) or provisioning. Admin only. */
        patch: operations["updatePool"];
        trace?: never;
    };
    "/v1/pools/{name}/unmanaged": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Backend objects of the pool that no volume or snapshot owns (for import). Admin only. */
        get: operations["listUnmanagedObjects"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profiles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Profiles the caller may use */
        get: operations["listProfiles"];
        put?: never;
        /** Create a profile (storage class). Admin only. Refused (PROFILE_UNSATISFIABLE) when no pool could serve it, unless ?force=true. */
        post: operations["createProfile"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profiles/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Profile */
        get: operations["getProfile"];
        put?: never;
        post?: never;
        /** Delete a profile no volume uses. Admin only. */
        delete: operations["deleteProfile"];
        options?: never;
        head?: never;
        /** Change a profile (the given keys). Admin only. */
        patch: operations["updateProfile"];
        trace?: never;
    };
    "/v1/reservations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Reservations */
        get: operations["listReservations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reservations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Reservation */
        get: operations["getReservation"];
        put?: never;
        post?: never;
        /** Release a reservation before it lapses */
        delete: operations["releaseReservation"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/services": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List services (a service token sees itself) */
        get: operations["listServices"];
        put?: never;
        /** Create a service (tenant). Admin only. */
        post: operations["createService"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/services/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Service */
        get: operations["getService"];
        put?: never;
        post?: never;
        /** Delete a service that owns no volumes. Admin only. */
        delete: operations["deleteService"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/services/{name}/quota": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A service’s quota and usage (null = unlimited) */
        get: operations["getQuota"];
        /** Replace a service’s quota. Admin only. */
        put: operations["setQuota"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/services/{name}/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Issue a bearer token for a service; shown once. Admin only. */
        post: operations["issueServiceToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Snapshots */
        get: operations["listSnapshots"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/snapshots/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Snapshot */
        get: operations["getSnapshot"];
        put?: never;
        post?: never;
        /** Delete Snapshot */
        delete: operations["deleteSnapshot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List volumes, filtered and paged by cursor */
        get: operations["listVolumes"];
        put?: never;
        /** Create a volume (placed by profile and capacity). Honours Idempotency-Key. */
        post: operations["createVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Volume */
        get: operations["getVolume"];
        put?: never;
        post?: never;
        /** Delete a volume and its data */
        delete: operations["deleteVolume"];
        options?: never;
        head?: never;
        /** Replace labels and/or fields */
        patch: operations["updateVolume"];
        trace?: never;
    };
    "/v1/volumes/{id}/attachments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Attach a volume to a node (idempotent per volume, node and service) */
        post: operations["attachVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/expand": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Grow a volume */
        post: operations["expandVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/offer": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Let other services see and attach this volume (read-only by default). Admin only. */
        post: operations["shareVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/release": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Forget a volume without deleting its data. Admin only. */
        post: operations["releaseVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Take a share back (refused while attached). Admin only. */
        post: operations["unshareVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/shares": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Volume Shares */
        get: operations["listVolumeShares"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Snapshot a volume */
        post: operations["createSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{id}/transfer": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Give the volume (and its snapshots) to another service; the quota of the service that receives it is checked */
        post: operations["transferVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/import": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Take an unmanaged backend volume under management (data untouched). Admin only. */
        post: operations["importVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AcceptOfferRequest: {
            /** @description bytes */
            sizeBytes: number;
        };
        /**
         * @description RWO one node, RWOP one writer, ROX many readers, RWX many writers
         * @enum {string}
         */
        AccessMode: "RWO" | "RWOP" | "ROX" | "RWX";
        AdminActor: {
            /** @enum {string} */
            kind: "admin";
            tokenId: string | null;
        };
        Attachment: {
            accessMode: components["schemas"]["AccessMode"];
            createdAt: string;
            endedAt: string | null;
            /** @description grows with every grant of the volume; a mount holding an older token is stale */
            fencingToken: number;
            id: string;
            leaseExpiresAt: string;
            node: string;
            /** @description what the pool's controller half answered for this node (networked drivers such as rbd); never a secret */
            publishContext?: {
                [key: string]: string;
            };
            readOnly: boolean;
            service: string;
            status: components["schemas"]["AttachmentStatus"];
            volumeId: string;
        };
        AttachmentList: {
            items: components["schemas"]["Attachment"][];
        };
        /**
         * @description fenced: the holder was cut off (forced detach or failover)
         * @enum {string}
         */
        AttachmentStatus: "live" | "ended" | "fenced";
        AttachVolumeRequest: {
            accessMode: components["schemas"]["AccessMode"];
            node: string;
            readOnly?: boolean;
        };
        CreateGroupSnapshotRequest: {
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            name: string;
            /** @description volume ids */
            volumes: string[];
        };
        CreateNodeCredentialRequest: {
            description?: string;
        };
        CreateNodeCredentialResponse: {
            id: string;
            node: string;
            token: string;
        };
        CreatePoolRequest: {
            driver: string;
            labels?: {
                [key: string]: string;
            };
            name: string;
            overSubscriptionRatio?: number;
            parameters?: {
                [key: string]: string;
            };
            path?: string;
            reservedPercent?: number;
            /** @enum {string} */
            state?: "enabled" | "draining" | "disabled";
            topology?: {
                nodes?: string[];
                region?: string;
                shared?: boolean;
                zone?: string;
            };
        };
        CreateProfileRequest: {
            accessModes?: ("RWO" | "RWOP" | "ROX" | "RWX")[];
            description?: string;
            /**
             * @description when a RWO/RWOP volume may move from a silent node: safe (release, self-fence report or operator fence), storage-fence (also a fence at the storage), force-after (also forceAfterSeconds after the lease)
             * @enum {string}
             */
            failover?: "safe" | "storage-fence" | "force-after";
            forceAfterSeconds?: number;
            /** @description ext4, xfs, btrfs, … */
            fsType?: string;
            maxBytes?: number;
            media?: string | null;
            minBytes?: number;
            name: string;
            parameters?: {
                [key: string]: string;
            };
            pools?: string[];
            poolSelector?: {
                [key: string]: string;
            };
            qos?: {
                bandwidthBytes?: number;
                iops?: number;
            };
            replicas?: number;
            services?: string[];
            /** @enum {string} */
            volumeMode?: "filesystem" | "block";
        };
        CreateServiceRequest: {
            /** @description string keys and values, at most 64 */
            labels?: {
                [key: string]: string;
            };
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            name: string;
        };
        CreateSnapshotRequest: {
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            name: string;
        };
        /**
         * @example {
         *       "name": "pg-data",
         *       "sizeBytes": 10737418240,
         *       "profile": "default",
         *       "labels": {
         *         "app": "postgres"
         *       }
         *     }
         */
        CreateVolumeRequest: {
            accessMode?: components["schemas"]["AccessMode"];
            /** @description prefer pools holding this service’s volumes with these labels */
            affinity?: {
                [key: string]: string;
            };
            /** @description refuse pools holding this service’s volumes with these labels */
            antiAffinity?: {
                [key: string]: string;
            };
            /** @description string keys and values, at most 64 */
            fields?: {
                [key: string]: string;
            };
            fromSnapshot?: string;
            fromVolume?: string;
            /** @description string keys and values, at most 64 */
            labels?: {
                [key: string]: string;
            };
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            name: string;
            /** @description the registered node the volume is made for (it mounts it first): only pools that node reaches */
            node?: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            pool?: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            profile?: string;
            /** @description consume a reservation from an accepted offer */
            reservation?: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            service?: string;
            /** @description bytes */
            sizeBytes: number;
            topology?: {
                /** @description zones, best first */
                preferred?: string[];
                /** @description zones, any of */
                requisite?: string[];
            };
        };
        /**
         * @example {
         *       "error": {
         *         "code": "VOLUME_NOT_FOUND",
         *         "message": "volume pg-data not found"
         *       }
         *     }
         */
        Error: {
            error: {
                code: components["schemas"]["ErrorCode"];
                details?: {
                    [key: string]: unknown;
                };
                /** @description what went wrong, for people */
                message: string;
            };
        };
        /**
         * @description stable error code; HTTP status per code: VALIDATION_FAILED 400, INVALID_POOL_PARAMETER 400, BAD_REQUEST 400, INVALID_JSON 400, INVALID_CURSOR 400, UNAUTHENTICATED 401, FORBIDDEN 403, POOL_NOT_ON_NODE 409, QUOTA_EXCEEDED 403, NOT_FOUND 404, METHOD_NOT_ALLOWED 405, REQUEST_TIMEOUT 408, VOLUME_NOT_FOUND 404, SNAPSHOT_NOT_FOUND 404, GROUP_SNAPSHOT_NOT_FOUND 404, SERVICE_NOT_FOUND 404, POOL_NOT_FOUND 404, PROFILE_NOT_FOUND 404, OFFER_NOT_FOUND 404, RESERVATION_NOT_FOUND 404, ATTACHMENT_NOT_FOUND 404, NODE_NOT_FOUND 404, INSTANCE_NOT_FOUND 404, BINDING_NOT_FOUND 404, INSTANCE_EXISTS 409, BINDING_EXISTS 409, OPERATION_IN_PROGRESS 422, ASYNC_REQUIRED 422, APP_REQUIRED 422, ATTACHMENT_EXISTS 409, PROFILE_EXISTS 409, POOL_EXISTS 409, PROFILE_IN_USE 409, POOL_IN_USE 409, OFFER_CLOSED 409, RESERVATION_CLOSED 409, VOLUME_NAME_TAKEN 409, SNAPSHOT_NAME_TAKEN 409, GROUP_SNAPSHOT_NAME_TAKEN 409, SERVICE_EXISTS 409, SERVICE_NOT_EMPTY 409, VOLUME_BUSY 409, NODE_FENCED 409, VOLUME_HAS_SNAPSHOTS 409, SNAPSHOT_BUSY 409, INVALID_STATE 409, IDEMPOTENCY_KEY_REUSED 422, IDEMPOTENCY_IN_PROGRESS 409, NO_MATCHING_POOL 422, PROFILE_UNSATISFIABLE 422, UNSUPPORTED 422, PAYLOAD_TOO_LARGE 413, UNSUPPORTED_MEDIA_TYPE 415, HEADERS_TOO_LARGE 431, NO_CAPACITY 507, BACKEND_FAILED 502, UNAVAILABLE 503, INTERNAL 500
         * @enum {string}
         */
        ErrorCode: "VALIDATION_FAILED" | "INVALID_POOL_PARAMETER" | "BAD_REQUEST" | "INVALID_JSON" | "INVALID_CURSOR" | "UNAUTHENTICATED" | "FORBIDDEN" | "POOL_NOT_ON_NODE" | "QUOTA_EXCEEDED" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_TIMEOUT" | "VOLUME_NOT_FOUND" | "SNAPSHOT_NOT_FOUND" | "GROUP_SNAPSHOT_NOT_FOUND" | "SERVICE_NOT_FOUND" | "POOL_NOT_FOUND" | "PROFILE_NOT_FOUND" | "OFFER_NOT_FOUND" | "RESERVATION_NOT_FOUND" | "ATTACHMENT_NOT_FOUND" | "NODE_NOT_FOUND" | "INSTANCE_NOT_FOUND" | "BINDING_NOT_FOUND" | "INSTANCE_EXISTS" | "BINDING_EXISTS" | "OPERATION_IN_PROGRESS" | "ASYNC_REQUIRED" | "APP_REQUIRED" | "ATTACHMENT_EXISTS" | "PROFILE_EXISTS" | "POOL_EXISTS" | "PROFILE_IN_USE" | "POOL_IN_USE" | "OFFER_CLOSED" | "RESERVATION_CLOSED" | "VOLUME_NAME_TAKEN" | "SNAPSHOT_NAME_TAKEN" | "GROUP_SNAPSHOT_NAME_TAKEN" | "SERVICE_EXISTS" | "SERVICE_NOT_EMPTY" | "VOLUME_BUSY" | "NODE_FENCED" | "VOLUME_HAS_SNAPSHOTS" | "SNAPSHOT_BUSY" | "INVALID_STATE" | "IDEMPOTENCY_KEY_REUSED" | "IDEMPOTENCY_IN_PROGRESS" | "NO_MATCHING_POOL" | "PROFILE_UNSATISFIABLE" | "UNSUPPORTED" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE" | "HEADERS_TOO_LARGE" | "NO_CAPACITY" | "BACKEND_FAILED" | "UNAVAILABLE" | "INTERNAL";
        Event: {
            /** @description who did it: a service token, the admin, a node agent, or Polly itself (system/reconciler, …); null on events older than this field */
            actor: components["schemas"]["ServiceActor"] | components["schemas"]["AdminActor"] | components["schemas"]["NodeActor"] | components["schemas"]["SystemActor"] | null;
            at: string;
            data: {
                [key: string]: unknown;
            };
            objectId: string;
            /** @description the REST request (x-request-id) the change came from; null for background work */
            requestId: string | null;
            seq: number;
            service: string | null;
            type: string;
        };
        EventList: {
            items: components["schemas"]["Event"][];
        };
        ExpandVolumeRequest: {
            /** @description bytes */
            sizeBytes: number;
        };
        Explanation: {
            chosen: string | null;
            filters: components["schemas"]["FilterSummary"][];
            pools: components["schemas"]["PoolVerdict"][];
            summary: string;
        };
        /** @enum {string} */
        FailoverPolicy: "safe" | "storage-fence" | "force-after";
        FenceNodeRequest: {
            reason?: string;
        };
        FilterSummary: {
            active: boolean;
            name: string;
            rejected: number;
        };
        GetMesosDiskProfilesResponse: {
            profile_matrix: {
                [key: string]: unknown;
            };
        };
        GroupSnapshot: {
            createdAt: string;
            id: string;
            name: string;
            service: string;
            /** @description one member snapshot per source volume, in the same order */
            snapshots: components["schemas"]["Snapshot"][];
            status: components["schemas"]["GroupSnapshotStatus"];
            statusReason: string | null;
            /** @description the source volumes, in the order asked for */
            volumeIds: string[];
        };
        GroupSnapshotPage: {
            items: components["schemas"]["GroupSnapshot"][];
            nextCursor: string | null;
        };
        /** @enum {string} */
        GroupSnapshotStatus: "creating" | "ready" | "deleting" | "error";
        Health: {
            /** @enum {string} */
            status: "ok";
            version: string;
        };
        Heartbeat: {
            attachments: components["schemas"]["NodeAttachment"][];
            leaseSeconds: number;
            node: string;
            selfFenceMarginSeconds: number;
        };
        Identity: {
            kind: components["schemas"]["IdentityKind"];
            /** @description the service a service token belongs to; null for the admin */
            service: string | null;
        };
        /** @enum {string} */
        IdentityKind: "admin" | "service";
        ImportVolumeRequest: {
            backendId: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            name: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            pool: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            profile?: string;
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            service: string;
        };
        IssuedToken: {
            id: string;
            service: string;
            token: string;
        };
        IssueServiceTokenRequest: {
            description?: string;
        };
        Node: {
            clockSkewSeconds: number;
            connector?: components["schemas"]["NodeConnector"];
            createdAt: string;
            /** @description set while an operator has confirmed the node down: nothing is attached to it until unfenced */
            fence: {
                at: string;
                by: string;
                reason: string;
            } | null;
            hostname: string;
            id: string;
            lastHeartbeatAt: string | null;
            leaseSeconds: number;
            /** @description last heartbeat + lease + clock-skew margin: no other node is granted its volumes before */
            regrantAfter: string | null;
            /** @description the last self-fence its agent reported */
            selfFencedAt: string | null;
            /** @description last heartbeat + lease − margin: by then its agent has fenced itself if it heard nothing */
            selfFenceDeadline: string | null;
            selfFenceMarginSeconds: number;
            /** @description string keys and values, at most 64 */
            topology: {
                [key: string]: string;
            };
        };
        NodeActor: {
            /** @enum {string} */
            kind: "node";
            node: string;
            tokenId: string;
        };
        NodeAttachment: components["schemas"]["Attachment"] & {
            /** @description the pool's node-scoped secrets, for this node's stage calls only (networked drivers) */
            secrets?: {
                [key: string]: string;
            };
            volume: {
                backendId: string;
                fsType: string;
                name: string;
                pool: string;
                service: string;
                sizeBytes: number;
                volumeMode: string;
            };
        };
        /** @description what the controller half of a networked driver receives for this node (and fences by) */
        NodeConnector: {
            /** @description the node's IP addresses (storage networks included) */
            addresses?: string[];
            /** @description the storage client identity the node uses, where it has its own */
            clientId?: string;
        };
        NodeFenced: {
            ended: string[];
            node: components["schemas"]["Node"];
        };
        NodeList: {
            items: components["schemas"]["Node"][];
        };
        Offer: {
            createdAt: string;
            expiresAt: string;
            id: string;
            maxBytes: number;
            pool: string;
            profile: string;
            service: string;
            status: components["schemas"]["OfferStatus"];
            zone: string | null;
        };
        OfferList: {
            items: components["schemas"]["Offer"][];
        };
        /** @enum {string} */
        OfferStatus: "open" | "accepted" | "declined" | "revoked" | "expired";
        Pool: {
            capabilities: components["schemas"]["PoolCapabilities"];
            capacity: {
                allocatedBytes: number;
                freeBytes: number;
                totalBytes: number;
                /** @description the backend reports no capacity: totalBytes and freeBytes mean nothing */
                unknown?: boolean;
                volumeCount: number;
            };
            createdAt: string;
            driver: string;
            /** @description string keys and values, at most 64 */
            labels: {
                [key: string]: string;
            };
            name: string;
            overSubscriptionRatio: number;
            parameters: {
                [key: string]: string;
            };
            reservedPercent: number;
            state: components["schemas"]["PoolState"];
            topology: components["schemas"]["Topology"];
        };
        PoolCapabilities: {
            accessModes: components["schemas"]["AccessMode"][];
            block: boolean;
            clones: boolean;
            /** @enum {string} */
            expand: "online" | "offline" | "none";
            fsTypes: string[];
            qos: boolean;
            restore: boolean;
            sizeEnforced: boolean;
            snapshots: boolean;
        };
        PoolList: {
            items: components["schemas"]["Pool"][];
        };
        /** @enum {string} */
        PoolState: "enabled" | "draining" | "disabled";
        PoolVerdict: {
            passed: boolean;
            pool: string;
            rank?: number;
            rejectedBy?: {
                filter: string;
                reason: string;
            };
            score?: number;
            weights?: {
                [key: string]: components["schemas"]["Weight"];
            };
        };
        Profile: {
            accessModes: components["schemas"]["AccessMode"][];
            createdAt: string;
            description: string;
            failover: components["schemas"]["FailoverPolicy"];
            forceAfterSeconds: number;
            fsType: string;
            maxBytes: number;
            media: string | null;
            minBytes: number;
            name: string;
            parameters: {
                [key: string]: string;
            };
            pools: string[];
            /** @description string keys and values, at most 64 */
            poolSelector: {
                [key: string]: string;
            };
            qos: {
                bandwidthBytes?: number;
                iops?: number;
            };
            replicas: number;
            services: string[];
            volumeMode: components["schemas"]["VolumeMode"];
        };
        ProfileList: {
            items: components["schemas"]["Profile"][];
        };
        Quota: {
            maxBytes: number | null;
            maxSnapshots: number | null;
            maxVolumes: number | null;
            profileBytes: {
                [key: string]: number;
            };
            service: string;
            usage: components["schemas"]["QuotaUsage"];
        };
        QuotaUsage: {
            bytes: number;
            profileBytes: {
                [key: string]: number;
            };
            reservedBytes: number;
            snapshots: number;
            volumes: number;
        };
        Readiness: {
            /** @enum {string} */
            status: "ready";
            /** @description sqlite or postgres */
            store: string;
        };
        RegisterNodeRequest: {
            connector?: components["schemas"]["NodeConnector"];
            hostname: string;
            id: string;
            /** @description string keys and values, at most 64 */
            topology?: {
                [key: string]: string;
            };
        };
        ReportNodeSelfFenceRequest: {
            attachments: string[];
            /** Format: date-time */
            fencedAt: string;
        };
        Reservation: {
            createdAt: string;
            expiresAt: string;
            id: string;
            offerId: string;
            pool: string;
            profile: string;
            service: string;
            sizeBytes: number;
            status: components["schemas"]["ReservationStatus"];
            volumeId: string | null;
        };
        ReservationList: {
            items: components["schemas"]["Reservation"][];
        };
        /** @enum {string} */
        ReservationStatus: "active" | "consumed" | "released" | "expired";
        SelfFenceResult: {
            ended: string[];
        };
        Service: {
            createdAt: string;
            /** @description string keys and values, at most 64 */
            labels: {
                [key: string]: string;
            };
            name: string;
        };
        ServiceActor: {
            /** @enum {string} */
            kind: "service";
            service: string;
            tokenId: string;
        };
        ServiceList: {
            items: components["schemas"]["Service"][];
        };
        SetQuotaRequest: {
            maxBytes?: number | null;
            maxSnapshots?: number | null;
            maxVolumes?: number | null;
            profileBytes?: {
                [key: string]: number;
            };
        };
        Share: {
            /** @enum {string} */
            access: "ro" | "rw";
            createdAt: string;
            service: string;
            volumeId: string;
        };
        ShareList: {
            items: components["schemas"]["Share"][];
        };
        ShareVolumeRequest: {
            /** @enum {string} */
            access?: "ro" | "rw";
            services: string[];
        };
        Snapshot: {
            createdAt: string;
            /** @description the group snapshot it was taken in (deleted with the group), or null */
            groupId?: string | null;
            id: string;
            name: string;
            pool: string;
            service: string;
            sizeBytes: number;
            status: components["schemas"]["SnapshotStatus"];
            statusReason: string | null;
            volumeId: string;
        };
        SnapshotPage: {
            items: components["schemas"]["Snapshot"][];
            nextCursor: string | null;
        };
        /** @enum {string} */
        SnapshotStatus: "creating" | "ready" | "deleting" | "error";
        SystemActor: {
            component: string;
            /** @enum {string} */
            kind: "system";
        };
        Topology: {
            /** @description nodes that reach the pool (node-local drivers: the hosts holding its path) */
            nodes?: string[];
            region?: string;
            /** @description a node-local pool whose path every node sees (declared by the operator) */
            shared?: boolean;
            zone?: string;
        };
        TransferVolumeRequest: {
            /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
            toService: string;
        };
        UnmanagedObject: {
            backendId: string;
            kind: string;
            sizeBytes: number;
            usedBytes?: number;
        };
        UnmanagedObjectList: {
            items: components["schemas"]["UnmanagedObject"][];
        };
        UnshareVolumeRequest: {
            services: string[];
        };
        UpdatePoolRequest: {
            /** @description string keys and values, at most 64 */
            labels?: {
                [key: string]: string;
            };
            overSubscriptionRatio?: number;
            reservedPercent?: number;
            /** @enum {string} */
            state?: "enabled" | "draining" | "disabled";
            topology?: {
                nodes?: string[];
                region?: string;
                shared?: boolean;
                zone?: string;
            };
        };
        UpdateProfileRequest: {
            accessModes?: ("RWO" | "RWOP" | "ROX" | "RWX")[];
            createdAt?: string;
            description?: string;
            /**
             * @description when a RWO/RWOP volume may move from a silent node: safe (release, self-fence report or operator fence), storage-fence (also a fence at the storage), force-after (also forceAfterSeconds after the lease)
             * @enum {string}
             */
            failover?: "safe" | "storage-fence" | "force-after";
            forceAfterSeconds?: number;
            /** @description ext4, xfs, btrfs, … */
            fsType?: string;
            maxBytes?: number;
            media?: string | null;
            minBytes?: number;
            name?: string;
            parameters?: {
                [key: string]: string;
            };
            pools?: string[];
            poolSelector?: {
                [key: string]: string;
            };
            qos?: {
                bandwidthBytes?: number;
                iops?: number;
            };
            replicas?: number;
            services?: string[];
            /** @enum {string} */
            volumeMode?: "filesystem" | "block";
        };
        UpdateVolumeRequest: {
            /** @description string keys and values, at most 64 */
            fields?: {
                [key: string]: string;
            };
            /** @description string keys and values, at most 64 */
            labels?: {
                [key: string]: string;
            };
        };
        /**
         * @example {
         *       "id": "vol_01J9Z3Q4X8",
         *       "name": "pg-data",
         *       "service": "k8s-prod",
         *       "pool": "fast",
         *       "profile": "default",
         *       "sizeBytes": 10737418240,
         *       "status": "available",
         *       "statusReason": null,
         *       "labels": {
         *         "app": "postgres"
         *       },
         *       "fields": {},
         *       "source": null,
         *       "createdAt": "2026-12-01T10:00:00.000Z",
         *       "updatedAt": "2026-12-01T10:00:00.000Z"
         *     }
         */
        Volume: {
            createdAt: string;
            /** @description string keys and values, at most 64 */
            fields: {
                [key: string]: string;
            };
            id: string;
            /** @description string keys and values, at most 64 */
            labels: {
                [key: string]: string;
            };
            name: string;
            pool: string;
            profile: string;
            service: string;
            sizeBytes: number;
            source: {
                id: string;
                kind: string;
            } | null;
            status: components["schemas"]["VolumeStatus"];
            statusReason: string | null;
            updatedAt: string;
        };
        /** @enum {string} */
        VolumeMode: "filesystem" | "block";
        VolumePage: {
            items: components["schemas"]["Volume"][];
            nextCursor: string | null;
        };
        /** @enum {string} */
        VolumeStatus: "creating" | "importing" | "available" | "attaching" | "attached" | "detaching" | "deleting" | "error";
        Weight: {
            multiplier: number;
            normalized: number;
            raw: number;
            weighted: number;
        };
    };
    responses: {
        /** @description The storage backend failed (BACKEND_FAILED) */
        BackendFailed: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Invalid request (VALIDATION_FAILED, INVALID_JSON, INVALID_CURSOR) */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Conflicts with the current state (name taken, busy, in use, closed: INVALID_STATE, VOLUME_BUSY, …) */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Not allowed for this identity (FORBIDDEN) or over quota (QUOTA_EXCEEDED) */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description No pool has the capacity (NO_CAPACITY) */
        InsufficientCapacity: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description No such object visible to the caller (VOLUME_NOT_FOUND, POOL_NOT_FOUND, …) */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Missing or unknown bearer token (UNAUTHENTICATED) */
        Unauthenticated: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Not ready: the store is unreachable (UNAVAILABLE) */
        Unavailable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Understood but not satisfiable (NO_MATCHING_POOL, UNSUPPORTED, IDEMPOTENCY_KEY_REUSED) */
        Unprocessable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: {
        /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
        IdempotencyKey: string;
    };
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    getMesosDiskProfiles: {
        parameters: {
            query?: {
                plugin_type?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GetMesosDiskProfilesResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            503: components["responses"]["Unavailable"];
        };
    };
    listAttachments: {
        parameters: {
            query?: {
                node?: string;
                volume?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AttachmentList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getAttachment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Attachment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    detachVolume: {
        parameters: {
            query?: {
                force?: boolean;
            };
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listEvents: {
        parameters: {
            query?: {
                /** @description only events with a larger seq */
                after?: number;
                limit?: number;
                object?: string;
                service?: string;
                /** @description event type or prefix (volume, offer, volume.created), repeatable or comma-separated */
                type?: string[];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EventList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listGroupSnapshots: {
        parameters: {
            query?: {
                cursor?: string;
                limit?: number;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                service?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GroupSnapshotPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createGroupSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateGroupSnapshotRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GroupSnapshot"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getGroupSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GroupSnapshot"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deleteGroupSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getIdentity: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Identity"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listNodes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    registerNode: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterNodeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Node"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Node"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createNodeCredential: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateNodeCredentialRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreateNodeCredentialResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    fenceNode: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["FenceNodeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeFenced"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    heartbeatNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Heartbeat"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    reportNodeSelfFence: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReportNodeSelfFenceRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SelfFenceResult"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    unfenceNode: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Node"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listOffers: {
        parameters: {
            query?: {
                minBytes?: number;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                profile?: string;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                service?: string;
                zone?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OfferList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    acceptOffer: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AcceptOfferRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Reservation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    declineOffer: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Offer"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    revokeOffer: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Offer"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    explainPlacement: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Explanation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listPools: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PoolList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createPool: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreatePoolRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getPool: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deletePool: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    updatePool: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdatePoolRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listUnmanagedObjects: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UnmanagedObjectList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listProfiles: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ProfileList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createProfile: {
        parameters: {
            query?: {
                /** @description accept a profile no current pool can serve (pools added later) */
                force?: boolean;
            };
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateProfileRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deleteProfile: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    updateProfile: {
        parameters: {
            query?: {
                /** @description accept a profile no current pool can serve (pools added later) */
                force?: boolean;
            };
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateProfileRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listReservations: {
        parameters: {
            query?: {
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                service?: string;
                status?: components["schemas"]["ReservationStatus"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReservationList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getReservation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Reservation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    releaseReservation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listServices: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ServiceList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createService: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateServiceRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Service"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getService: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Service"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deleteService: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getQuota: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Quota"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    setQuota: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SetQuotaRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Quota"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    issueServiceToken: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["IssueServiceTokenRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["IssuedToken"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listSnapshots: {
        parameters: {
            query?: {
                cursor?: string;
                limit?: number;
                /** @description exactly this snapshot name (unique per service) */
                name?: string;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                service?: string;
                volume?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SnapshotPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deleteSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listVolumes: {
        parameters: {
            query?: {
                cursor?: string;
                /** @description key=value, repeatable */
                field?: string[];
                /** @description key=value, repeatable */
                label?: string[];
                limit?: number;
                /** @description exactly this volume name (unique per service; the admin may find one in several services) */
                name?: string;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                pool?: string;
                /** @description 1-128 characters [A-Za-z0-9_.-], starting with a letter or digit */
                service?: string;
                /** @description volumes other services shared with the caller, instead of its own */
                shared?: boolean;
                status?: components["schemas"]["VolumeStatus"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VolumePage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateVolumeRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    getVolume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    deleteVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    updateVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    attachVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AttachVolumeRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Attachment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    expandVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ExpandVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    shareVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ShareVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShareList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    releaseVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    unshareVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UnshareVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShareList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    listVolumeShares: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShareList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    createSnapshot: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateSnapshotRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    transferVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TransferVolumeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
    importVolume: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After. */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ImportVolumeRequest"];
            };
        };
        responses: {
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["Unprocessable"];
            502: components["responses"]["BackendFailed"];
            507: components["responses"]["InsufficientCapacity"];
        };
    };
}
