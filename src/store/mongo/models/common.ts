/** Shared by the collection modules. */

/**
 * Version of the document layout written by this code. Readers accept documents of the same
 * major layout; changes within a version are additive only (see README "Compatibility between versions").
 */
export const SCHEMA_VERSION = 1;

/**
 * A `required` rule for strings that may be empty: Mongoose's plain `required` rejects `''`,
 * but an empty title or display name is still a recorded fact. Missing values are rejected.
 */
export function presentString(path: string): [(this: unknown) => boolean, string] {
  return [
    function (this: unknown): boolean {
      // `this` is the document being validated.
      return (this as { get(path: string): unknown }).get(path) !== '';
    },
    `${path} is required`,
  ];
}
