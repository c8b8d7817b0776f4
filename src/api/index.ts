/** The Docker Engine API (`berth serve`): HTTP routes over the engine, like src/cli is a command line over it. */
export { serve, parseHost, socketGroup, type ApiServer, type Listen, type ServeOptions, type TlsFiles } from './server.js';
export { API_VERSION, MIN_API_VERSION } from './http.js';
