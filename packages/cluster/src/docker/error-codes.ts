import type { ClusterErrorCode } from '../errors.js';

/** No Docker engine could be had: none answers and the private one could not be installed or started. */
export const ENGINE_UNAVAILABLE: ClusterErrorCode = 'CLUSTER_DOCKER_UNAVAILABLE';

/** Making an image failed: debootstrap, `docker import` or `docker build`. */
export const IMAGE_BUILD_FAILED: ClusterErrorCode = 'CLUSTER_IMAGE_BUILD_FAILED';
