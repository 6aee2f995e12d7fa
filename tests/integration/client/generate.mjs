// Generates TypeScript types from roster's OpenAPI document with
// openapi-typescript, as an integrator would: binary parts (format: binary)
// become Blob, which is what fetch's FormData takes.
//   node generate.mjs openapi.yaml out.ts
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';

const blob = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'));
const ast = await openapiTS(pathToFileURL(process.argv[2]), {
  transform(schema) {
    if (schema.format === 'binary') return blob;
    return undefined;
  },
});
fs.writeFileSync(process.argv[3], astToString(ast));
