import { describe, test, expect } from 'vitest'
import { checkBeaconRequest, isBeaconPath, MAX_LIGHT_CLIENT_UPDATES } from './beaconRoutes.ts'

const ROOT = `0x${'ab'.repeat(32)}`

describe('checkBeaconRequest', () => {
  test('default: the light-client routes pass, rebuilt', () => {
    expect(checkBeaconRequest('GET', `/eth/v1/beacon/light_client/bootstrap/${ROOT.toUpperCase().replace('0X', '0x')}`)).toEqual({ ok: true, route: 'bootstrap', path: `/eth/v1/beacon/light_client/bootstrap/${ROOT}` })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?count=4&start_period=812')).toEqual({ ok: true, route: 'updates', path: '/eth/v1/beacon/light_client/updates?start_period=812&count=4', count: 4 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/finality_update')).toMatchObject({ ok: true, path: '/eth/v1/beacon/light_client/finality_update' })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/optimistic_update')).toMatchObject({ ok: true, path: '/eth/v1/beacon/light_client/optimistic_update' })
    for (const id of ['head', 'finalized', 'genesis', 'justified', '0', '123456', ROOT]) expect(checkBeaconRequest('GET', `/eth/v1/beacon/headers/${id}`)).toMatchObject({ ok: true, route: 'header' })
    expect(checkBeaconRequest('GET', `/eth/v1/beacon/headers?slot=5&parent_root=${ROOT}`)).toMatchObject({ ok: true, path: `/eth/v1/beacon/headers?slot=5&parent_root=${ROOT}` })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/headers')).toMatchObject({ ok: true, path: '/eth/v1/beacon/headers' })
  })

  test('behavior: count is bounded', () => {
    expect(checkBeaconRequest('GET', `/eth/v1/beacon/light_client/updates?start_period=1&count=${MAX_LIGHT_CLIENT_UPDATES}`)).toMatchObject({ ok: true, count: 128 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=1&count=129')).toEqual({ ok: false, status: 400, message: 'updates count 129 is out of range: 1 to 128 per request' })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=1&count=0')).toMatchObject({ ok: false, status: 400 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=1')).toMatchObject({ ok: false, status: 400 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=-1&count=1')).toMatchObject({ ok: false, status: 400 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=1&count=1e3')).toMatchObject({ ok: false, status: 400 })
  })

  test('error: other routes, methods and parameters are refused with a precise message', () => {
    expect(checkBeaconRequest('GET', '/eth/v1/node/peers')).toEqual({
      ok: false,
      status: 404,
      message: '/eth/v1/node/peers is not relayed by the pool: only the light-client routes /eth/v1/beacon/light_client/{bootstrap/<block root>, updates?start_period=<n>&count=<1..128>, finality_update, optimistic_update} and /eth/v1/beacon/headers[/<block id>]',
    })
    for (const path of ['/eth/v1/beacon/pool/attestations', '/eth/v2/beacon/blocks/head', '/eth/v1/debug/beacon/states/head', '/eth/v1/beacon/light_client/bootstrap', '/eth/v1/beacon/light_client/../../node/identity', '/eth/v1/beacon/headers/head/extra']) {
      expect(checkBeaconRequest('GET', path), path).toMatchObject({ ok: false, status: 404 })
    }
    expect(checkBeaconRequest('POST', '/eth/v1/beacon/light_client/finality_update')).toEqual({ ok: false, status: 405, message: 'the beacon API is relayed read-only: POST /eth/v1/beacon/light_client/finality_update is refused, use GET' })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/finality_update?x=1')).toEqual({ ok: false, status: 400, message: 'query parameter "x" is not relayed for /eth/v1/beacon/light_client/finality_update' })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/updates?start_period=1&count=1&count=2')).toMatchObject({ ok: false, status: 400 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/light_client/bootstrap/0x1234')).toMatchObject({ ok: false, status: 400 })
    expect(checkBeaconRequest('GET', '/eth/v1/beacon/headers/latest')).toMatchObject({ ok: false, status: 400 })
  })

  test('isBeaconPath', () => {
    expect(isBeaconPath('/eth/v1/beacon/headers/head')).toBe(true)
    expect(isBeaconPath('/')).toBe(false)
    expect(isBeaconPath(undefined)).toBe(false)
  })
})
