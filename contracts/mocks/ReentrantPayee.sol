// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IVipnodePool} from "../IVipnodePool.sol";

/**
 * @dev Test attacker: a payee whose `receive` calls {IVipnodePool-claim} again with the same leaf
 * while the first claim is still sending it ETH. It records the outcome instead of reverting, so
 * the outer claim completes and a test can assert that the reentry failed and nothing was paid twice.
 */
contract ReentrantPayee {
    IVipnodePool private immutable _pool;
    uint256 private _cumulative;
    bytes32[] private _proof;

    /// @dev Whether `receive` has tried its reentrant claim (only the first payment tries).
    bool public reentryAttempted;
    /// @dev Whether the reentrant claim returned without reverting.
    bool public reentrySucceeded;
    /// @dev The revert data of the reentrant claim (e.g. `ReentrancyGuardReentrantCall()`).
    bytes public reentryError;
    /// @dev Number of payments received.
    uint256 public paymentsReceived;

    constructor(IVipnodePool pool) {
        _pool = pool;
    }

    /// @dev Stores the leaf to replay from `receive`, then claims it.
    function attack(uint256 cumulative, bytes32[] calldata proof) external {
        _cumulative = cumulative;
        _proof = proof;
        _pool.claim(address(this), cumulative, proof);
    }

    receive() external payable {
        paymentsReceived += 1;
        if (reentryAttempted) return;
        reentryAttempted = true;
        try _pool.claim(address(this), _cumulative, _proof) {
            reentrySucceeded = true;
        } catch (bytes memory reason) {
            reentryError = reason;
        }
    }
}
