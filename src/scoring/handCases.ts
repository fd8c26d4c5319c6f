// Hand-built query/expansion pairs shared by the unit tests; the expected scores live in each test,
// worked out from spec/scoring.md.
export const NGINX_QUERY = 'configure nginx reverse proxy';
export const NGINX_HYDE = 'Set proxy_pass in a location block so nginx forwards requests to the upstream app server.';
export const NGINX = [
  'lex: nginx reverse proxy config',
  'lex: nginx proxy_pass upstream',
  'vec: how do I set up nginx as a reverse proxy server',
  'vec: configuring a reverse proxy with nginx for web apps',
  `hyde: ${NGINX_HYDE}`,
].join('\n');

export const DOCKER_QUERY = 'install Docker on Ubuntu';
export const DOCKER = [
  'lex: docker ubuntu install',
  'lex: search for',
  'vec: how to install docker engine on ubuntu linux',
].join('\n');

export const ECHO_QUERY = 'Docker Compose';
export const ECHO = [
  'lex: docker compose',
  'vec: docker compose tutorial',
  'vec: how to write a docker compose file for local development',
].join('\n');

export const FILLER_QUERY = 'Kubernetes Helm Charts';
export const FILLER = ['lex: search for', 'lex: look up', 'lex: help with', 'foo', 'bar'].join('\n');
