/** esbuild's file loader: importing an asset gives its URL under /assets/. */
declare module '*.wasm' {
  const url: string;
  export default url;
}
