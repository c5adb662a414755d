// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IVipnodePool} from "./IVipnodePool.sol";

/**
 * @title VipnodePool
 * @dev Pull-payment payout pool for vipnode hosts. See {IVipnodePool} for the accounting invariant.
 *
 * Design decisions:
 *
 * - Only the latest root is kept. Each root commits to every payee's *cumulative* entitlement
 *   since the pool began, and `claimed[payee]` records the cumulative already paid, so the latest
 *   root alone decides what anyone is still owed: an older leaf can only prove a lower cumulative,
 *   which pays nothing. Keeping one slot also keeps postRoot at a constant cost and means a payee
 *   who skips epochs claims once, with one proof.
 *
 * - A claim that would pay nothing reverts with {VipnodePoolNothingToClaim} instead of succeeding
 *   silently: `eth_estimateGas` then fails before anything is sent, so a wallet or claim bot never
 *   spends gas on a no-op, and the revert tells it why (its cumulative and what it already claimed).
 *
 * - {pause} stops {postRoot} and {deposit}, never {claim}. It is the operator's brake for a
 *   suspected bad coordinator and the way to retire a pool: post the final root, pause, and every
 *   remaining wei stays claimable while no new client money arrives that no root could pay out.
 *
 * - The fee recipient has no special power: the pool fee is an ordinary leaf in each tree, claimed
 *   like any host's. The address is declared once (event and view) so payees can audit the fee leaf.
 *
 * - There is no `receive`: plain transfers revert, so every wei that counts arrives via {deposit}.
 */
contract VipnodePool is IVipnodePool, ReentrancyGuardTransient {
    /// @dev The latest root over `(address payee, uint256 cumulative)` leaves (OpenZeppelin
    /// StandardMerkleTree encoding: double-hashed, sorted pairs).
    bytes32 private _root;

    // Both totals share one slot so a claim reads and writes one slot for its accounting.
    // uint128 holds 3.4e38 wei, twelve orders of magnitude above the ETH supply; postRoot
    // casts with SafeCast and a claim never raises _totalClaimed above _totalEntitled.
    uint128 private _totalEntitled;
    uint128 private _totalClaimed;

    uint256 private _totalReceived;

    // Packed: postRoot reads operator and pause flag and writes the epoch in one slot.
    address private _operator;
    uint64 private _lastEpoch;
    bool private _paused;

    address private _pendingOperator;

    mapping(address payee => uint256 cumulative) private _claimed;

    address private immutable _feeRecipient;

    modifier onlyOperator() {
        _checkOperator();
        _;
    }

    modifier whenNotPaused() {
        if (_paused) revert VipnodePoolEnforcedPause();
        _;
    }

    constructor(address operator_, address feeRecipient_) {
        if (operator_ == address(0)) revert VipnodePoolInvalidOperator(operator_);
        if (feeRecipient_ == address(0)) revert VipnodePoolInvalidFeeRecipient(feeRecipient_);
        _operator = operator_;
        emit OperatorTransferred(address(0), operator_);
        _feeRecipient = feeRecipient_;
        emit FeeRecipientDeclared(feeRecipient_);
    }

    /// @inheritdoc IVipnodePool
    function deposit(bytes32 account) external payable whenNotPaused {
        if (msg.value == 0) revert VipnodePoolZeroDeposit(account);
        if (account == bytes32(0)) revert VipnodePoolInvalidAccount(account);
        _totalReceived += msg.value;
        emit Deposited(account, msg.sender, msg.value);
    }

    /// @inheritdoc IVipnodePool
    function postRoot(uint64 epoch, bytes32 newRoot, uint256 newTotalEntitled) external onlyOperator whenNotPaused {
        uint64 expected = _lastEpoch + 1;
        if (epoch != expected) revert VipnodePoolInvalidEpoch(epoch, expected);
        if (newRoot == bytes32(0)) revert VipnodePoolEmptyRoot(epoch);
        uint256 previous = _totalEntitled;
        if (newTotalEntitled < previous) revert VipnodePoolEntitlementDecreased(newTotalEntitled, previous);
        uint256 received = _totalReceived;
        if (newTotalEntitled > received) revert VipnodePoolRootExceedsBalance(newTotalEntitled, received);

        _lastEpoch = epoch;
        _root = newRoot;
        _totalEntitled = SafeCast.toUint128(newTotalEntitled);
        emit RootPosted(epoch, newRoot, newTotalEntitled);
    }

    /// @inheritdoc IVipnodePool
    function claim(address payee, uint256 cumulative, bytes32[] calldata proof) external nonReentrant {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(payee, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, _root, leaf)) revert VipnodePoolInvalidProof(payee, cumulative);

        uint256 already = _claimed[payee];
        if (cumulative <= already) revert VipnodePoolNothingToClaim(payee, cumulative, already);
        uint256 amount;
        uint256 claimedSoFar = _totalClaimed;
        unchecked {
            // cumulative > already was checked just above.
            amount = cumulative - already;
            // _totalClaimed <= _totalEntitled always holds: the check below guards every increase
            // of _totalClaimed, and postRoot never lowers _totalEntitled.
            uint256 unclaimed = _totalEntitled - claimedSoFar;
            if (amount > unclaimed) revert VipnodePoolClaimExceedsEntitled(amount, unclaimed);
        }

        _claimed[payee] = cumulative;
        // No overflow or truncation: amount <= _totalEntitled - claimedSoFar, so the sum is at most
        // _totalEntitled, which is a uint128.
        _totalClaimed = uint128(claimedSoFar + amount);
        emit Claimed(payee, amount, cumulative);

        (bool ok, ) = payee.call{value: amount}("");
        if (!ok) revert VipnodePoolPaymentFailed(payee, amount);
    }

    /// @inheritdoc IVipnodePool
    /// @dev Nominating the zero address cancels a pending transfer.
    function transferOperator(address newOperator) external onlyOperator {
        _pendingOperator = newOperator;
        emit OperatorTransferStarted(_operator, newOperator);
    }

    /// @inheritdoc IVipnodePool
    function acceptOperator() external {
        if (msg.sender != _pendingOperator) revert VipnodePoolUnauthorizedPendingOperator(msg.sender);
        address previous = _operator;
        delete _pendingOperator;
        _operator = msg.sender;
        emit OperatorTransferred(previous, msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function pause() external onlyOperator whenNotPaused {
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function unpause() external onlyOperator {
        if (!_paused) revert VipnodePoolExpectedPause();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function root() external view returns (bytes32) {
        return _root;
    }

    /// @inheritdoc IVipnodePool
    function lastEpoch() external view returns (uint64) {
        return _lastEpoch;
    }

    /// @inheritdoc IVipnodePool
    function totalEntitled() external view returns (uint256) {
        return _totalEntitled;
    }

    /// @inheritdoc IVipnodePool
    function totalReceived() external view returns (uint256) {
        return _totalReceived;
    }

    /// @inheritdoc IVipnodePool
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @inheritdoc IVipnodePool
    function claimed(address payee) external view returns (uint256) {
        return _claimed[payee];
    }

    /// @inheritdoc IVipnodePool
    function operator() external view returns (address) {
        return _operator;
    }

    /// @inheritdoc IVipnodePool
    function pendingOperator() external view returns (address) {
        return _pendingOperator;
    }

    /// @inheritdoc IVipnodePool
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IVipnodePool
    function paused() external view returns (bool) {
        return _paused;
    }

    function _checkOperator() private view {
        if (msg.sender != _operator) revert VipnodePoolUnauthorizedOperator(msg.sender);
    }
}
