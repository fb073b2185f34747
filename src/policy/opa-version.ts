/**
 * The one place the OPA release is pinned. scripts/setup.sh reads this line (so keep its shape:
 * `export const OPA_VERSION = 'X.Y.Z';`) to build the `opa` binary and the local sidecar image, and the
 * manifest's default `opa.image` is the official image of the same release: the engine the tests run
 * and the image a user pulls are one version.
 */
export const OPA_VERSION = '1.22.3';

/** The official image of the pinned release: `opa.image`'s default. */
export const OPA_IMAGE = `openpolicyagent/opa:${OPA_VERSION}`;

/** The image scripts/setup.sh builds from the pinned binary, for machines without a registry. */
export const OPA_LOCAL_IMAGE = 'swiftdeploy-opa:local';
